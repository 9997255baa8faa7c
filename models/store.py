"""The asyncpg store: the only place that speaks SQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from models.migrate import migrate
from models.records import (
    DEFAULT_LINE_LABELS,
    OPEN_STATES,
    CalibrationPoint,
    Camera,
    Detection,
    Event,
    EventKind,
    Grid,
    GridKind,
    Incident,
    IncidentState,
    LineDirection,
    LocatedBy,
    Mount,
    Role,
    Severity,
    Shift,
    Tier,
    Unit,
    UnitLevel,
    Zone,
    ZoneKind,
)

_OPEN = sorted(s.value for s in OPEN_STATES)


class NotFound(LookupError):
    pass


class StaleVersion(RuntimeError):
    """The incident changed since the caller read it; re-read and decide again."""


@dataclass(frozen=True, slots=True)
class EvidenceBlob:
    role: str  # "snapshot" (boxes drawn), "clean" or "clip" (an MP4 around the event)
    media_type: str
    sha256: str
    data: bytes


@dataclass(frozen=True, slots=True)
class IncidentOpening:
    """Everything needed to open an incident, or to attach an event to the open one with the same key."""

    kind: EventKind
    severity: Severity
    tier: Tier
    department: str
    category_code: str
    unit_code: str
    grid_code: str | None
    grid_match: str
    chain: Sequence[Unit]
    lonlat: tuple[float, float]
    located_by: LocatedBy
    camera_id: str
    dedup_key: str
    title: str
    at: datetime
    accept_by: datetime | None
    assignee_id: str | None
    assignee_name: str | None
    assignee_phone: str | None
    duty: dict[str, Any] = field(default_factory=dict)
    #: Timer kind ('accept', 'arrive', 'resolve') → deadline; armed in the transaction opening the incident.
    deadlines: Mapping[str, datetime] = field(default_factory=dict)
    #: The ground (lon, lat) under each of the event's boxes, in its order; stored with the boxes.
    ground_points: Sequence[tuple[float, float] | None] = ()


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    unit_prefix: str | None = None
    kind: EventKind | None = None
    states: Sequence[IncidentState] | None = None
    since: datetime | None = None
    until: datetime | None = None
    assignee_id: str | None = None


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


class Store:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(cls, url: str, *, run_migrations: bool = True, max_size: int = 8) -> Store:
        if run_migrations:
            conn = await asyncpg.connect(url)
            try:
                await migrate(conn)
            finally:
                await conn.close()
        pool = await asyncpg.create_pool(url, min_size=1, max_size=max_size, init=_init_connection)
        return cls(pool)

    async def close(self) -> None:
        await self.pool.close()

    # --- grids and the hierarchy -------------------------------------------------------------------

    async def replace_grids(self, grids: Sequence[Grid]) -> None:
        """Swap the whole grid layer in one transaction: a failed import leaves the old one intact."""
        units: dict[str, Unit] = {}
        for grid in grids:
            for unit in grid.chain():
                units.setdefault(unit.code, unit)
        ordered = sorted(units.values(), key=lambda u: u.level)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM grids")
            await conn.execute("DELETE FROM units WHERE code NOT IN (SELECT unit_code FROM shifts)")
            await conn.executemany(
                "INSERT INTO units (code, name, level, parent_code) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level,"
                " parent_code = EXCLUDED.parent_code",
                [(u.code, u.name, int(u.level), u.parent_code) for u in ordered],
            )
            await conn.executemany(
                "INSERT INTO grids (code, name, kind, exclusive_type, households, county_code,"
                " township_code, community_code, geometry) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
                [
                    (
                        g.code,
                        g.name,
                        g.kind.value,
                        g.exclusive_type,
                        g.households,
                        g.county_code,
                        g.township_code,
                        g.community_code,
                        g.geometry,
                    )
                    for g in grids
                ],
            )

    async def load_grids(self) -> list[Grid]:
        rows = await self.pool.fetch(
            "SELECT g.*, c.name AS county_name, t.name AS township_name, m.name AS community_name"
            " FROM grids g JOIN units c ON c.code = g.county_code JOIN units t ON t.code = g.township_code"
            " JOIN units m ON m.code = g.community_code ORDER BY g.code"
        )
        return [
            Grid(
                code=r["code"],
                name=r["name"],
                kind=GridKind(r["kind"]),
                county_code=r["county_code"],
                county_name=r["county_name"],
                township_code=r["township_code"],
                township_name=r["township_name"],
                community_code=r["community_code"],
                community_name=r["community_name"],
                geometry=r["geometry"],
                exclusive_type=r["exclusive_type"],
                households=r["households"],
            )
            for r in rows
        ]

    async def unit_codes(self) -> set[str]:
        return {r["code"] for r in await self.pool.fetch("SELECT code FROM units")}

    async def load_units(self) -> list[Unit]:
        rows = await self.pool.fetch("SELECT code, name, level, parent_code FROM units ORDER BY code")
        return [Unit(r["code"], r["name"], UnitLevel(r["level"]), r["parent_code"]) for r in rows]

    # --- roster ------------------------------------------------------------------------------------

    async def replace_roster(self, shifts: Sequence[Shift]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM shifts")
            await conn.executemany(
                "INSERT INTO shifts (worker_id, name, phone, role, unit_code, weekdays, start_minute,"
                " end_minute) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
                [
                    (
                        s.worker_id,
                        s.name,
                        s.phone,
                        s.role.value,
                        s.unit_code,
                        sorted(s.weekdays),
                        s.start_minute,
                        s.end_minute,
                    )
                    for s in shifts
                ],
            )

    async def load_roster(self) -> list[Shift]:
        rows = await self.pool.fetch("SELECT * FROM shifts ORDER BY worker_id, id")
        return [
            Shift(
                worker_id=r["worker_id"],
                name=r["name"],
                phone=r["phone"],
                role=Role(r["role"]),
                unit_code=r["unit_code"],
                weekdays=frozenset(r["weekdays"]),
                start_minute=r["start_minute"],
                end_minute=r["end_minute"],
            )
            for r in rows
        ]

    # --- cameras -----------------------------------------------------------------------------------

    async def upsert_cameras(self, cameras: Sequence[Camera]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                "INSERT INTO cameras (id, name, source, frame_w, frame_h, mount, calibration, zones,"
                " analysis_fps, enabled) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
                " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, source = EXCLUDED.source,"
                " frame_w = EXCLUDED.frame_w, frame_h = EXCLUDED.frame_h, mount = EXCLUDED.mount,"
                " calibration = EXCLUDED.calibration, zones = EXCLUDED.zones,"
                " analysis_fps = EXCLUDED.analysis_fps, enabled = EXCLUDED.enabled, updated_at = now()",
                [_camera_row(c) for c in cameras],
            )

    async def load_cameras(self) -> list[Camera]:
        rows = await self.pool.fetch("SELECT * FROM cameras ORDER BY id")
        return [_camera_from_row(r) for r in rows]

    # --- events and incidents ----------------------------------------------------------------------

    async def record_event(
        self,
        event: Event,
        opening: IncidentOpening,
        evidence: Sequence[EvidenceBlob] = (),
    ) -> tuple[uuid.UUID, bool]:
        """Store the event and open an incident for it, or attach it to the open one with its key.

        Returns (incident id, whether it was opened now). The outbox row announcing the change is
        written in the same transaction, so a crash can lose neither the incident nor its notice.
        """
        [result] = await self.record_events([(event, opening, evidence)])
        return result

    async def record_events(
        self, items: Sequence[tuple[Event, IncidentOpening, Sequence[EvidenceBlob]]]
    ) -> list[tuple[uuid.UUID, bool]]:
        """record_event for many events in one transaction, with the results of recording them in order.

        A commit (its WAL flush) costs far more than the rows it carries, so a busy service commits
        events in groups: one statement per table whatever the group's size. Returns (incident id,
        opened now) per item, in input order; on any error nothing of the group is stored.
        """
        if not items:
            return []
        # ON CONFLICT DO UPDATE may not touch one row twice in a statement: one upsert row per dedup key,
        # counting all of its events, as the events one by one would have folded into it.
        groups: dict[str, list[int]] = {}
        for index, (_, opening, _) in enumerate(items):
            groups.setdefault(opening.dedup_key, []).append(index)
        # Every transaction locks incident rows in key order, so two concurrent groups cannot deadlock.
        keys = sorted(groups)
        firsts = [items[groups[key][0]][1] for key in keys]
        deadlines = [_deadlines(o) for o in firsts]
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                _UPSERT_INCIDENTS,
                [uuid.uuid4() for _ in keys],
                [o.kind.value for o in firsts],
                [int(o.severity) for o in firsts],
                [o.tier.value for o in firsts],
                [o.department for o in firsts],
                [o.category_code for o in firsts],
                [o.unit_code for o in firsts],
                [o.grid_code for o in firsts],
                [o.grid_match for o in firsts],
                [json.dumps([_unit_json(u) for u in o.chain]) for o in firsts],
                [o.lonlat[0] for o in firsts],
                [o.lonlat[1] for o in firsts],
                [o.located_by.value for o in firsts],
                [o.camera_id for o in firsts],
                keys,
                [o.title for o in firsts],
                [o.assignee_id for o in firsts],
                [o.assignee_name for o in firsts],
                [o.assignee_phone for o in firsts],
                [json.dumps(o.duty) for o in firsts],
                [o.at for o in firsts],
                [max(items[i][1].at for i in groups[key]) for key in keys],
                [len(groups[key]) for key in keys],
                [o.accept_by for o in firsts],
                [d.get("arrive") for d in deadlines],
                [d.get("resolve") for d in deadlines],
            )
            incident_of: dict[str, tuple[uuid.UUID, bool]] = {
                r["dedup_key"]: (r["id"], r["inserted"]) for r in rows
            }
            # Opened incidents get their log rows and timers in input order, as one by one they would.
            opened = sorted(
                (
                    (groups[key][0], incident_of[key][0], opening, due)
                    for key, opening, due in zip(keys, firsts, deadlines, strict=True)
                    if incident_of[key][1]
                ),
                key=lambda row: row[0],
            )
            if opened:
                log = [row for _, incident_id, o, _ in opened for row in _opening_log(incident_id, o)]
                await conn.execute(_INSERT_LOG, *(list(column) for column in zip(*log, strict=True)))
                timers = [
                    (incident_id, kind, at)
                    for _, incident_id, _, due in opened
                    for kind, at in sorted(due.items())
                ]
                if timers:
                    await conn.execute(
                        _INSERT_TIMERS, *(list(column) for column in zip(*timers, strict=True))
                    )
            results = [
                (incident_of[o.dedup_key][0], incident_of[o.dedup_key][1] and groups[o.dedup_key][0] == i)
                for i, (_, o, _) in enumerate(items)
            ]
            events = [e for e, _, _ in items]
            await conn.execute(
                _INSERT_EVENTS,
                [e.id for e in events],
                [e.kind.value for e in events],
                [e.camera_id for e in events],
                [e.zone_name for e in events],
                [e.started_at for e in events],
                [e.ended_at for e in events],
                [e.confidence for e in events],
                [e.person_count for e in events],
                [_detections_json(e.detections, o.ground_points) for e, o, _ in items],
                [o.lonlat[0] for _, o, _ in items],
                [o.lonlat[1] for _, o, _ in items],
                [incident_id for incident_id, _ in results],
            )
            blobs = [(e.id, blob) for e, _, evidence in items for blob in evidence]
            if blobs:
                await conn.execute(
                    _INSERT_EVIDENCE,
                    [uuid.uuid4().hex for _ in blobs],
                    [event_id for event_id, _ in blobs],
                    [b.role for _, b in blobs],
                    [b.media_type for _, b in blobs],
                    [b.sha256 for _, b in blobs],
                    [len(b.data) for _, b in blobs],
                    [b.data for _, b in blobs],
                )
            await conn.execute(
                _INSERT_OUTBOX,
                ["incident.opened" if opened_now else "incident.updated" for _, opened_now in results],
                [incident_id for incident_id, _ in results],
                [
                    json.dumps({"incident_id": str(incident_id), "event_id": str(e.id)})
                    for e, (incident_id, _) in zip(events, results, strict=True)
                ],
            )
        return results

    async def update_event(
        self, event_id: uuid.UUID, person_count: int | None, confidence: float, ended_at: datetime | None
    ) -> None:
        """Refresh an event while its episode lasts: peak count, best confidence, end time."""
        await self.pool.execute(
            "UPDATE events SET person_count = GREATEST(person_count, $2),"
            " confidence = GREATEST(confidence, $3), ended_at = COALESCE($4, ended_at) WHERE id = $1",
            event_id,
            person_count,
            confidence,
            ended_at,
        )

    async def transition(
        self,
        incident_id: uuid.UUID,
        *,
        to_state: IncidentState,
        action: str,
        actor: str,
        at: datetime,
        note: str = "",
        expected_from: IncidentState,
        attachments: Sequence[str] = (),
    ) -> None:
        """Move an incident from ``expected_from`` to ``to_state``; StaleVersion if it moved meanwhile."""
        async with self.pool.acquire() as conn, conn.transaction():
            status = await conn.execute(
                "UPDATE incidents SET state = $2, version = version + 1, updated_at = now()"
                " WHERE id = $1 AND state = $3",
                incident_id,
                to_state.value,
                expected_from.value,
            )
            if status != "UPDATE 1":
                exists = await conn.fetchval("SELECT 1 FROM incidents WHERE id = $1", incident_id)
                if not exists:
                    raise NotFound(f"no incident {incident_id}")
                raise StaleVersion(f"incident {incident_id} is no longer {expected_from.value}")
            await conn.execute(
                "INSERT INTO incident_log (incident_id, from_state, to_state, action, actor, at, note,"
                " attachments) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
                incident_id,
                expected_from.value,
                to_state.value,
                action,
                actor,
                at,
                note,
                list(attachments),
            )
            await conn.execute(
                "INSERT INTO outbox (topic, incident_id, payload) VALUES ('incident.updated', $1, $2)",
                incident_id,
                {"incident_id": str(incident_id), "state": to_state.value},
            )

    async def get_incident_row(self, incident_id: uuid.UUID) -> dict[str, Any]:
        row = await self.pool.fetchrow("SELECT * FROM incidents WHERE id = $1", incident_id)
        if row is None:
            raise NotFound(f"no incident {incident_id}")
        return dict(row)

    async def get_incident(self, incident_id: uuid.UUID) -> Incident:
        return _incident_from_row(await self.get_incident_row(incident_id))

    async def list_incident_rows(
        self, filt: IncidentFilter = IncidentFilter(), *, limit: int = 50, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        where, args = _incident_where(filt)
        total = await self.pool.fetchval(f"SELECT count(*) FROM incidents {where}", *args)
        rows = await self.pool.fetch(
            f"SELECT * FROM incidents {where} ORDER BY opened_at DESC, id"
            f" LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
            *args,
            limit,
            offset,
        )
        return [dict(r) for r in rows], int(total)

    async def list_incidents(
        self, filt: IncidentFilter = IncidentFilter(), *, limit: int = 50
    ) -> list[Incident]:
        rows, _ = await self.list_incident_rows(filt, limit=limit)
        return [_incident_from_row(r) for r in rows]

    async def incident_log(self, incident_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT from_state, to_state, action, actor, at, note, attachments FROM incident_log"
            " WHERE incident_id = $1 ORDER BY id",
            incident_id,
        )
        return [dict(r) for r in rows]

    async def incident_events(self, incident_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT e.id, e.kind, e.camera_id, e.zone_name, e.started_at, e.confidence, e.person_count,"
            " e.detections, e.lon, e.lat, coalesce(json_agg(json_build_object('id', v.id, 'role', v.role,"
            " 'media_type', v.media_type, 'sha256', v.sha256, 'size', v.size)) FILTER (WHERE v.id IS NOT"
            " NULL), '[]')::jsonb AS evidence FROM events e LEFT JOIN evidence v ON v.event_id = e.id"
            " WHERE e.incident_id = $1 GROUP BY e.id ORDER BY e.started_at",
            incident_id,
        )
        return [dict(r) for r in rows]

    async def get_evidence(self, evidence_id: str) -> tuple[dict[str, Any], bytes]:
        row = await self.pool.fetchrow(
            "SELECT v.id, v.media_type, v.sha256, v.data, i.unit_code, v.event_id FROM evidence v"
            " JOIN events e ON e.id = v.event_id LEFT JOIN incidents i ON i.id = e.incident_id"
            " WHERE v.id = $1",
            evidence_id,
        )
        if row is None:
            raise NotFound(f"no evidence {evidence_id}")
        meta = dict(row)
        data: bytes = meta.pop("data")
        return meta, data

    async def add_evidence(self, event_id: uuid.UUID, blob: EvidenceBlob) -> str:
        """Attach evidence to an event already stored (a clip finishes seconds after its event START).

        The incident's "incident.updated" outbox row is written in the same transaction, so pages showing
        the incident refresh and find the new evidence. Returns the evidence id; NotFound if no such event.
        """
        evidence_id = uuid.uuid4().hex
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow("SELECT incident_id FROM events WHERE id = $1", event_id)
            if row is None:
                raise NotFound(f"no event {event_id}")
            await conn.execute(
                "INSERT INTO evidence (id, event_id, role, media_type, sha256, size, data)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                evidence_id,
                event_id,
                blob.role,
                blob.media_type,
                blob.sha256,
                len(blob.data),
                blob.data,
            )
            if row["incident_id"] is not None:
                await conn.execute(
                    "INSERT INTO outbox (topic, incident_id, payload) VALUES ('incident.updated', $1, $2)",
                    row["incident_id"],
                    {
                        "incident_id": str(row["incident_id"]),
                        "event_id": str(event_id),
                        "evidence_id": evidence_id,
                        "role": blob.role,
                    },
                )
        return evidence_id

    async def pending_outbox(self, after_id: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT id, topic, incident_id, payload, created_at FROM outbox"
            " WHERE delivered_at IS NULL AND id > $1 ORDER BY id LIMIT $2",
            after_id,
            limit,
        )
        return [dict(r) for r in rows]

    async def mark_delivered(self, outbox_ids: Sequence[int]) -> None:
        if outbox_ids:
            await self.pool.execute(
                "UPDATE outbox SET delivered_at = now(), attempts = attempts + 1 WHERE id = ANY($1)",
                list(outbox_ids),
            )

    async def counts(self) -> dict[str, int]:
        row = await self.pool.fetchrow(
            "SELECT (SELECT count(*) FROM grids) AS grids, (SELECT count(*) FROM shifts) AS shifts,"
            " (SELECT count(*) FROM cameras) AS cameras, (SELECT count(*) FROM incidents) AS incidents,"
            " (SELECT count(*) FROM events) AS events"
        )
        assert row is not None
        return {k: int(v) for k, v in dict(row).items()}

    # --- deadlines and escalation (timers) ---------------------------------------------------------

    async def fire_due_timers(
        self, now: datetime, decide: Callable[[TimerDue], TimerFiring | None], *, limit: int = 50
    ) -> list[FiredTimer]:
        """Fire up to `limit` timers due by `now`, each in its own transaction.

        A timer is claimed with FOR UPDATE SKIP LOCKED together with its incident, so two workers never
        fire one twice; `decide` (pure, from router.escalation) says what the miss means. The escalation,
        its log entry, the re-armed timer and the outbox row commit together with fired_at, so a crash
        either fires the timer completely or leaves it due for the next run.
        """
        fired: list[FiredTimer] = []
        for _ in range(limit):
            async with self.pool.acquire() as conn, conn.transaction():
                row = await conn.fetchrow(
                    "SELECT t.id AS timer_id, t.kind, t.due_at, i.id, i.state, i.severity, i.unit_code,"
                    " i.assignee_id, i.duty->>'role' AS assignee_role FROM timers t"
                    " JOIN incidents i ON i.id = t.incident_id"
                    " WHERE t.fired_at IS NULL AND t.cancelled_at IS NULL AND t.due_at <= $1"
                    " ORDER BY t.due_at, t.id LIMIT 1 FOR UPDATE OF t, i SKIP LOCKED",
                    now,
                )
                if row is None:
                    break
                due = TimerDue(
                    timer_id=row["timer_id"],
                    kind=row["kind"],
                    due_at=row["due_at"],
                    incident_id=row["id"],
                    state=IncidentState(row["state"]),
                    severity=Severity(row["severity"]),
                    unit_code=row["unit_code"],
                    assignee_id=row["assignee_id"],
                    assignee_role=Role(row["assignee_role"]) if row["assignee_role"] else None,
                )
                firing = decide(due)
                outcome = "stale" if firing is None else ("escalated" if firing.assignee_id else "late")
                await conn.execute(
                    "UPDATE timers SET fired_at = $2, outcome = $3 WHERE id = $1", due.timer_id, now, outcome
                )
                if firing is not None:
                    await _apply_escalation(conn, due, firing, now)
                fired.append(FiredTimer(due.timer_id, due.incident_id, due.kind, outcome))
        return fired

    async def timers(self, incident_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT id, kind, due_at, fired_at, cancelled_at, outcome FROM timers WHERE incident_id = $1"
            " ORDER BY id",
            incident_id,
        )
        return [dict(r) for r in rows]

    async def next_timer_due(self) -> datetime | None:
        due: datetime | None = await self.pool.fetchval(
            "SELECT min(due_at) FROM timers WHERE fired_at IS NULL AND cancelled_at IS NULL"
        )
        return due

    # --- notification channels (deliveries) --------------------------------------------------------

    async def register_channels(self, names: Sequence[str]) -> None:
        """Make each channel receive the outbox rows written from now on (an outbox trigger fans out)."""
        await self.pool.executemany(
            "INSERT INTO delivery_channels (name) VALUES ($1)"
            " ON CONFLICT (name) DO UPDATE SET enabled = true",
            [(n,) for n in names],
        )

    async def claim_deliveries(
        self,
        channel: str,
        now: datetime,
        *,
        lease_s: float = 60.0,
        limit: int = 20,
        oldest_per_incident: bool = True,
    ) -> list[dict[str, Any]]:
        """Lease the next pending deliveries of a channel: at most one per incident, its oldest.

        Holding back an incident's later rows until its earlier one is delivered (or given up) keeps
        each incident's notifications in order while other incidents proceed. The lease (moving
        next_attempt_at) keeps a second worker off a row while its HTTP request is in flight; a
        worker that dies mid-request lets the lease lapse and the row is sent again with the same key.
        A digest merges an incident's notices into one message, so it takes them all at once.
        """
        rows = await self.pool.fetch(
            "UPDATE deliveries d SET next_attempt_at = $2 + make_interval(secs => $3)"
            " FROM (SELECT p.channel, p.outbox_id FROM deliveries p"
            "  WHERE p.channel = $1 AND p.delivered_at IS NULL AND p.failed_at IS NULL"
            "  AND p.next_attempt_at <= $2 AND (NOT $5 OR NOT EXISTS (SELECT 1 FROM deliveries e"
            "   WHERE e.channel = p.channel AND e.incident_id = p.incident_id AND e.outbox_id < p.outbox_id"
            "   AND e.delivered_at IS NULL AND e.failed_at IS NULL))"
            "  ORDER BY p.outbox_id LIMIT $4 FOR UPDATE SKIP LOCKED) c, outbox o"
            " WHERE d.channel = c.channel AND d.outbox_id = c.outbox_id AND o.id = d.outbox_id"
            " RETURNING d.outbox_id, d.incident_id, d.attempts, o.topic, o.payload, o.created_at",
            channel,
            now,
            lease_s,
            limit,
            oldest_per_incident,
        )
        return sorted((dict(r) for r in rows), key=lambda r: r["outbox_id"])

    async def finish_deliveries(
        self,
        channel: str,
        outbox_ids: Sequence[int],
        *,
        delivered_at: datetime | None = None,
        retry_at: datetime | None = None,
        failed_at: datetime | None = None,
        error: str | None = None,
        via_digest: bool = False,
    ) -> None:
        """Record one attempt's result: delivered, to be retried at `retry_at`, or given up."""
        await self.pool.execute(
            "UPDATE deliveries SET attempts = attempts + 1, delivered_at = $3, failed_at = $5,"
            " next_attempt_at = COALESCE($4, next_attempt_at), last_error = $6, via_digest = $7"
            " WHERE channel = $1 AND outbox_id = ANY($2) AND delivered_at IS NULL",
            channel,
            list(outbox_ids),
            delivered_at,
            retry_at,
            failed_at,
            error,
            via_digest,
        )

    async def delivery_rows(self, channel: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT * FROM deliveries WHERE channel = $1 ORDER BY outbox_id", channel
        )
        return [dict(r) for r in rows]

    # --- camera-verified closure -------------------------------------------------------------------

    async def verification_sightings(self, incident_id: uuid.UUID, since: datetime) -> list[dict[str, Any]]:
        """Events of the incident's kind on its camera and zones that were seen after `since`.

        An event still open from before `since` counts only once it is known to have lasted past it
        (ended_at): an event whose end was never recorded (a restart mid-episode) would otherwise
        block verification for ever.
        """
        rows = await self.pool.fetch(
            "SELECT e.id, e.started_at, e.ended_at, e.incident_id, coalesce(array_agg(v.id)"
            " FILTER (WHERE v.id IS NOT NULL), '{}') AS evidence FROM incidents i"
            " JOIN events e ON e.camera_id = i.camera_id AND e.kind = i.kind"
            "  AND coalesce(e.zone_name, '') IN"
            "  (SELECT coalesce(zone_name, '') FROM events WHERE incident_id = i.id)"
            " LEFT JOIN evidence v ON v.event_id = e.id"
            " WHERE i.id = $1 AND (e.started_at >= $2 OR e.ended_at > $2)"
            " GROUP BY e.id ORDER BY e.started_at",
            incident_id,
            since,
        )
        return [dict(r) for r in rows]

    async def resolved_at(self, incident_id: uuid.UUID) -> datetime | None:
        at: datetime | None = await self.pool.fetchval(
            "SELECT max(at) FROM incident_log WHERE incident_id = $1 AND to_state = 'resolved'", incident_id
        )
        return at

    async def reopen_with_evidence(
        self, incident_id: uuid.UUID, *, at: datetime, note: str, attachments: Sequence[str]
    ) -> uuid.UUID | None:
        """resolved → reopened because the camera saw the problem again.

        A recurrence seen after resolution opened its own incident under the same dedup key; it is a
        duplicate report of this one, so it is folded in (events moved, marked rejected as a duplicate)
        before the reopen takes the key back. Returns the folded incident's id, if any.
        """
        async with self.pool.acquire() as conn, conn.transaction():
            key = await conn.fetchval(
                "SELECT dedup_key FROM incidents WHERE id = $1 AND state = 'resolved' FOR UPDATE", incident_id
            )
            if key is None:
                raise StaleVersion(f"incident {incident_id} is not resolved")
            twin: uuid.UUID | None = await conn.fetchval(
                f"SELECT id FROM incidents WHERE dedup_key = $1 AND id <> $2 AND state IN ({_OPEN_SQL})"
                " FOR UPDATE",
                key,
                incident_id,
            )
            if twin is not None:
                await _fold_duplicate(conn, twin, incident_id, at)
            await _log_transition(conn, incident_id, "resolved", "reopened", "reopen", at, note, attachments)
        return twin

    async def verify_clear(self, incident_id: uuid.UUID, *, at: datetime, note: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            status = await conn.execute(
                "SELECT 1 FROM incidents WHERE id = $1 AND state = 'resolved' FOR UPDATE", incident_id
            )
            if status != "SELECT 1":
                raise StaleVersion(f"incident {incident_id} is not resolved")
            await _log_transition(conn, incident_id, "resolved", "verified", "verify", at, note, ())

    # --- surviving a database restart --------------------------------------------------------------

    async def record_event_retrying(
        self,
        event: Event,
        opening: IncidentOpening,
        evidence: Sequence[EvidenceBlob] = (),
        *,
        attempts: int = 30,
        delay_s: float = 0.2,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> tuple[uuid.UUID, bool]:
        """record_event that rides out a restarting server; safe to repeat because the event id is unique.

        The error may come after COMMIT reached the server (asyncpg raises InternalClientError or
        ConnectionDoesNotExistError while releasing a connection whose server just died), so a retry
        that finds its event already stored returns that event's incident instead of failing;
        `opened` is then False even if the lost attempt opened it.
        """
        import asyncio

        pause = sleep or asyncio.sleep
        for attempt in range(1, attempts + 1):
            try:
                return await self.record_event(event, opening, evidence)
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name != "events_pkey":
                    raise
                return await self._incident_of_event(event.id), False
            except TRANSIENT_DB_ERRORS:
                if attempt == attempts:
                    raise
                await pause(delay_s)
        raise AssertionError("unreachable")

    async def _incident_of_event(self, event_id: uuid.UUID) -> uuid.UUID:
        incident_id: uuid.UUID | None = await self.pool.fetchval(
            "SELECT incident_id FROM events WHERE id = $1", event_id
        )
        if incident_id is None:
            raise NotFound(f"no event {event_id}")
        return incident_id


def _incident_where(filt: IncidentFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if filt.unit_prefix:
        args.append(filt.unit_prefix + "%")
        clauses.append(f"unit_code LIKE ${len(args)}")
    if filt.kind:
        args.append(filt.kind.value)
        clauses.append(f"kind = ${len(args)}")
    if filt.states:
        args.append([s.value for s in filt.states])
        clauses.append(f"state = ANY(${len(args)})")
    if filt.assignee_id:
        args.append(filt.assignee_id)
        clauses.append(f"assignee_id = ${len(args)}")
    if filt.since:
        args.append(filt.since)
        clauses.append(f"opened_at >= ${len(args)}")
    if filt.until:
        args.append(filt.until)
        clauses.append(f"opened_at < ${len(args)}")
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), args


def _incident_from_row(r: dict[str, Any]) -> Incident:
    return Incident(
        id=r["id"],
        kind=EventKind(r["kind"]),
        state=IncidentState(r["state"]),
        severity=Severity(r["severity"]),
        tier=Tier(r["tier"]),
        department=r["department"],
        category_code=r["category_code"],
        unit_code=r["unit_code"],
        grid_code=r["grid_code"],
        lonlat=(r["lon"], r["lat"]),
        located_by=LocatedBy(r["located_by"]),
        camera_id=r["camera_id"],
        dedup_key=r["dedup_key"],
        opened_at=r["opened_at"],
        last_seen_at=r["last_seen_at"],
        event_count=r["event_count"],
        assignee_id=r["assignee_id"],
        title=r["title"],
        accept_by=r["accept_by"],
        late=r["late"],
    )


def mount_json(mount: Mount) -> dict[str, Any]:
    return {"lonlat": list(mount.lonlat), "height_m": mount.height_m, "heading_deg": mount.heading_deg}


def calibration_json(points: Sequence[CalibrationPoint]) -> list[dict[str, Any]]:
    return [{"px": list(p.px), "lonlat": list(p.lonlat)} for p in points]


def zones_json(zones: Sequence[Zone]) -> list[dict[str, Any]]:
    """Zones as stored (jsonb) and as the registry API shows them."""
    return [
        {
            "name": z.name,
            "kind": z.kind.value,
            "polygon_px": [list(p) for p in z.polygon_px],
            "min_persons": z.min_persons,
            "min_seconds": z.min_seconds,
            "cooldown_seconds": z.cooldown_seconds,
            "direction": z.direction.value,
            "labels": list(z.labels),
        }
        for z in zones
    ]


def _camera_row(c: Camera) -> tuple[Any, ...]:
    return (
        c.id,
        c.name,
        c.source,
        c.frame_size[0],
        c.frame_size[1],
        mount_json(c.mount),
        calibration_json(c.calibration),
        zones_json(c.zones),
        c.analysis_fps,
        c.enabled,
    )


def _camera_from_row(r: Any) -> Camera:
    mount = r["mount"]
    return Camera(
        id=r["id"],
        name=r["name"],
        source=r["source"],
        frame_size=(r["frame_w"], r["frame_h"]),
        mount=Mount(tuple(mount["lonlat"]), mount.get("height_m"), mount.get("heading_deg")),
        calibration=tuple(CalibrationPoint(tuple(p["px"]), tuple(p["lonlat"])) for p in r["calibration"]),
        zones=tuple(
            Zone(
                name=z["name"],
                kind=ZoneKind(z["kind"]),
                polygon_px=tuple(tuple(p) for p in z["polygon_px"]),
                min_persons=z["min_persons"],
                min_seconds=z["min_seconds"],
                cooldown_seconds=z["cooldown_seconds"],
                # Rows stored before line zones existed lack these keys; the defaults are what they meant.
                direction=LineDirection(z.get("direction", LineDirection.BOTH)),
                labels=tuple(z.get("labels", DEFAULT_LINE_LABELS)),
            )
            for z in r["zones"]
        ),
        analysis_fps=r["analysis_fps"],
        enabled=r["enabled"],
    )


#: What a dying or restarting server raises: connection loss, refused connects, pool release after loss.
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.OperatorInterventionError,  # admin/crash shutdown terminating our backend
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,  # refused or missing socket while the server is down; ConnectionResetError mid-query
    TimeoutError,
)

_OPEN_SQL = ", ".join(repr(s) for s in _OPEN)


@dataclass(frozen=True, slots=True)
class TimerDue:
    """A claimed, due timer and the incident as it stands: what escalation decides on."""

    timer_id: int
    kind: str
    due_at: datetime
    incident_id: uuid.UUID
    state: IncidentState
    severity: Severity
    unit_code: str
    assignee_id: str | None
    assignee_role: Role | None


@dataclass(frozen=True, slots=True)
class TimerFiring:
    """What to write for a missed deadline; assignee None keeps the assignee and only marks it late."""

    note: str
    assignee_id: str | None = None
    assignee_name: str | None = None
    assignee_phone: str | None = None
    assignee_role: str | None = None
    next_due: datetime | None = None
    tried: Sequence[Sequence[Any]] = ()


@dataclass(frozen=True, slots=True)
class FiredTimer:
    timer_id: int
    incident_id: uuid.UUID
    kind: str
    outcome: str  # escalated | late | stale


def _deadlines(opening: IncidentOpening) -> dict[str, datetime]:
    deadlines = dict(opening.deadlines)
    if opening.accept_by is not None:
        deadlines.setdefault("accept", opening.accept_by)
    return deadlines


def _unit_json(unit: Unit) -> dict[str, Any]:
    return {"code": unit.code, "name": unit.name, "level": int(unit.level)}


def _detections_json(detections: Sequence[Detection], ground: Sequence[tuple[float, float] | None]) -> str:
    """The boxes as stored on the event row, each with the ground point under it (null: none known)."""
    return json.dumps(
        [
            {
                "xyxy": list(d.xyxy),
                "confidence": d.confidence,
                "label": d.label,
                "track_id": d.track_id,
                "ground": _lonlat_json(ground[i]) if i < len(ground) else None,
            }
            for i, d in enumerate(detections)
        ]
    )


def _lonlat_json(point: tuple[float, float] | None) -> list[float] | None:
    return None if point is None else [point[0], point[1]]


def _opening_log(incident_id: uuid.UUID, opening: IncidentOpening) -> list[tuple[Any, ...]]:
    """The two log rows of a new incident: the camera reported it, the router dispatched it."""
    return [
        (incident_id, None, "reported", "report", f"camera:{opening.camera_id}", opening.at, ""),
        (
            incident_id,
            "reported",
            "dispatched",
            "dispatch",
            "system:router",
            opening.at,
            f"on duty: {opening.assignee_name or 'nobody'} ({opening.assignee_id or '-'})",
        ),
    ]


# Each statement takes one array per column (unnest), so a group of any size is one round trip per table;
# jsonb travels as text because the connection's jsonb codec does not reach inside arrays.
_UPSERT_INCIDENTS = (
    "INSERT INTO incidents (id, kind, state, severity, tier, department, category_code, unit_code, grid_code,"
    " grid_match, chain, lon, lat, located_by, camera_id, dedup_key, title, assignee_id, assignee_name,"
    " assignee_phone, duty, opened_at, last_seen_at, event_count, accept_by, arrive_by, resolve_by)"
    " SELECT id, kind, 'dispatched', severity, tier, department, category_code, unit_code, grid_code,"
    " grid_match, chain::jsonb, lon, lat, located_by, camera_id, dedup_key, title, assignee_id,"
    " assignee_name, assignee_phone, duty::jsonb, opened_at, last_seen_at, event_count, accept_by,"
    " arrive_by, resolve_by FROM unnest($1::uuid[], $2::text[], $3::smallint[], $4::text[], $5::text[],"
    " $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::float8[], $12::float8[],"
    " $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[],"
    " $20::text[], $21::timestamptz[], $22::timestamptz[], $23::int[], $24::timestamptz[],"
    " $25::timestamptz[], $26::timestamptz[]) AS t(id, kind, severity, tier, department, category_code,"
    " unit_code, grid_code, grid_match, chain, lon, lat, located_by, camera_id, dedup_key, title,"
    " assignee_id, assignee_name, assignee_phone, duty, opened_at, last_seen_at, event_count, accept_by,"
    " arrive_by, resolve_by)"
    f" ON CONFLICT (dedup_key) WHERE state IN ({_OPEN_SQL})"
    " DO UPDATE SET event_count = incidents.event_count + EXCLUDED.event_count,"
    " last_seen_at = GREATEST(incidents.last_seen_at, EXCLUDED.last_seen_at), updated_at = now()"
    " RETURNING id, dedup_key, (xmax = 0) AS inserted"
)
_INSERT_LOG = (
    "INSERT INTO incident_log (incident_id, from_state, to_state, action, actor, at, note)"
    " SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],"
    " $7::text[])"
)
_INSERT_TIMERS = (
    "INSERT INTO timers (incident_id, kind, due_at)"
    " SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[])"
)
_INSERT_EVENTS = (
    "INSERT INTO events (id, kind, camera_id, zone_name, started_at, ended_at, confidence, person_count,"
    " detections, lon, lat, incident_id) SELECT id, kind, camera_id, zone_name, started_at, ended_at,"
    " confidence, person_count, detections::jsonb, lon, lat, incident_id FROM unnest($1::uuid[],"
    " $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::real[], $8::int[],"
    " $9::text[], $10::float8[], $11::float8[], $12::uuid[]) AS t(id, kind, camera_id, zone_name,"
    " started_at, ended_at, confidence, person_count, detections, lon, lat, incident_id)"
)
_INSERT_EVIDENCE = (
    "INSERT INTO evidence (id, event_id, role, media_type, sha256, size, data)"
    " SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::int[],"
    " $7::bytea[])"
)
# Outbox ids follow input order: the feed and the notifiers deliver in id order, "opened" before "updated".
_INSERT_OUTBOX = (
    "INSERT INTO outbox (topic, incident_id, payload)"
    " SELECT topic, incident_id, payload::jsonb FROM unnest($1::text[], $2::uuid[], $3::text[])"
    " WITH ORDINALITY AS t(topic, incident_id, payload, n) ORDER BY n"
)


async def _apply_escalation(
    conn: asyncpg.Connection, due: TimerDue, firing: TimerFiring, now: datetime
) -> None:
    if firing.assignee_id is not None:
        await conn.execute(
            "UPDATE incidents SET late = true, escalation_level = escalation_level + 1,"
            " version = version + 1, updated_at = now(), assignee_id = $2, assignee_name = $3,"
            " assignee_phone = $4, duty = duty || jsonb_build_object('role', $5::text, 'escalated_from',"
            " $6::text, 'escalation_tried', $7::jsonb) WHERE id = $1",
            due.incident_id,
            firing.assignee_id,
            firing.assignee_name,
            firing.assignee_phone,
            firing.assignee_role,
            due.assignee_id,
            [list(t) for t in firing.tried],
        )
    else:
        await conn.execute(
            "UPDATE incidents SET late = true, version = version + 1, updated_at = now() WHERE id = $1",
            due.incident_id,
        )
    if firing.next_due is not None:
        await conn.execute(
            "INSERT INTO timers (incident_id, kind, due_at) VALUES ($1, $2, $3)",
            due.incident_id,
            due.kind,
            firing.next_due,
        )
    await conn.execute(
        "INSERT INTO incident_log (incident_id, from_state, to_state, action, actor, at, note)"
        " VALUES ($1, $2, $2, 'escalate', 'system:escalation', $3, $4)",
        due.incident_id,
        due.state.value,
        now,
        firing.note,
    )
    await conn.execute(
        "INSERT INTO outbox (topic, incident_id, payload) VALUES ('incident.escalated', $1, $2)",
        due.incident_id,
        {"incident_id": str(due.incident_id), "timer": due.kind, "to": firing.assignee_id},
    )


async def _log_transition(
    conn: asyncpg.Connection,
    incident_id: uuid.UUID,
    from_state: str,
    to_state: str,
    action: str,
    at: datetime,
    note: str,
    attachments: Sequence[str],
) -> None:
    await conn.execute(
        "UPDATE incidents SET state = $2, version = version + 1, updated_at = now() WHERE id = $1",
        incident_id,
        to_state,
    )
    await conn.execute(
        "INSERT INTO incident_log (incident_id, from_state, to_state, action, actor, at, note, attachments)"
        " VALUES ($1, $2, $3, $4, 'system:verifier', $5, $6, $7)",
        incident_id,
        from_state,
        to_state,
        action,
        at,
        note,
        list(attachments),
    )
    await conn.execute(
        "INSERT INTO outbox (topic, incident_id, payload) VALUES ($1, $2, $3)",
        f"incident.{to_state}",
        incident_id,
        {"incident_id": str(incident_id), "state": to_state},
    )


async def _fold_duplicate(conn: asyncpg.Connection, twin: uuid.UUID, into: uuid.UUID, at: datetime) -> None:
    state = await conn.fetchval("SELECT state FROM incidents WHERE id = $1", twin)
    moved = await conn.fetchval(
        "WITH m AS (UPDATE events SET incident_id = $2 WHERE incident_id = $1 RETURNING 1)"
        " SELECT count(*) FROM m",
        twin,
        into,
    )
    await conn.execute(
        "UPDATE incidents SET event_count = event_count + $2, last_seen_at = GREATEST(last_seen_at,"
        " (SELECT last_seen_at FROM incidents WHERE id = $3)) WHERE id = $1",
        into,
        moved,
        twin,
    )
    await conn.execute(
        "UPDATE incidents SET state = 'rejected', event_count = 0, version = version + 1, updated_at = now()"
        " WHERE id = $1",
        twin,
    )
    await conn.execute(
        "INSERT INTO incident_log (incident_id, from_state, to_state, action, actor, at, note)"
        " VALUES ($1, $2, 'rejected', 'merge', 'system:verifier', $3, $4)",
        twin,
        state,
        at,
        f"duplicate of {into}, which camera verification reopened",
    )
