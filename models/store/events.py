"""Events: each recorded opens an incident or folds into the open one with its dedup key.

The incident, its log, the event, its evidence, the deadline timers and the outbox row announcing the
change are written in one transaction, so a crash can lose neither the incident nor its notice. Dedup
is the partial unique index ``incidents_open_dedup`` (migration 0006): ``INSERT … ON CONFLICT`` names it
by its predicate, ``gridwatch_open_state(state)``, so no Python set is spliced into the SQL.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from models.incidents import IncidentOpening
from models.records import Detection, Event, EvidenceBlob, IncidentState, LonLat
from models.store.base import TRANSIENT_DB_ERRORS, NotFound, Repository, unit_json

#: One event to record: the event, the incident it opens or joins, and its evidence bytes.
Recording = tuple[Event, IncidentOpening, Sequence[EvidenceBlob]]
#: A later phase's refresh of a stored event: its id, person count, confidence and end time.
EventUpdate = tuple[uuid.UUID, int | None, float, datetime | None]


class EventRepository(Repository):
    async def record(
        self, event: Event, opening: IncidentOpening, evidence: Sequence[EvidenceBlob] = ()
    ) -> tuple[uuid.UUID, bool]:
        """Store the event and open an incident for it, or attach it to the open one with its key.

        Returns (incident id, whether it was opened now).
        """
        [result] = await self.record_many([(event, opening, evidence)])
        return result

    async def record_many(self, items: Sequence[Recording]) -> list[tuple[uuid.UUID, bool]]:
        """``record`` for many events in one transaction, with the results of recording them in order.

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
        # A group opens each incident with the earliest capture among its key's events, as one process
        # handling them in capture order would: a bus may deliver them in another order (a redelivery).
        firsts = [min((items[i][1] for i in groups[key]), key=lambda o: o.at) for key in keys]
        # A case waiting to be filed has no deadlines yet: filing dispatches it and arms them.
        deadlines = [_deadlines(o) if o.state is IncidentState.DISPATCHED else {} for o in firsts]
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
                [json.dumps([unit_json(u) for u in o.chain]) for o in firsts],
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
                [d.get("accept") for d in deadlines],
                [d.get("arrive") for d in deadlines],
                [d.get("resolve") for d in deadlines],
                [o.state.value for o in firsts],
            )
            incident_of: dict[str, tuple[uuid.UUID, bool]] = {
                r["dedup_key"]: (r["id"], r["inserted"]) for r in rows
            }
            await _rearm_taken_over(conn, rows, dict(zip(keys, firsts, strict=True)))
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

    async def record_retrying(
        self,
        event: Event,
        opening: IncidentOpening,
        evidence: Sequence[EvidenceBlob] = (),
        *,
        attempts: int = 30,
        delay_s: float = 0.2,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> tuple[uuid.UUID, bool]:
        """``record`` that rides out a restarting server; safe to repeat because the event id is unique.

        The error may come after COMMIT reached the server (asyncpg raises InternalClientError or
        ConnectionDoesNotExistError while releasing a connection whose server just died), so a retry
        that finds its event already stored returns that event's incident instead of failing;
        `opened` is then False even if the lost attempt opened it.
        """
        pause = sleep or asyncio.sleep
        for attempt in range(1, attempts + 1):
            try:
                return await self.record(event, opening, evidence)
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name != "events_pkey":
                    raise
                return await self.incident_of(event.id), False
            except TRANSIENT_DB_ERRORS:
                if attempt == attempts:
                    raise
                await pause(delay_s)
        raise AssertionError("unreachable")

    async def update(
        self, event_id: uuid.UUID, person_count: int | None, confidence: float, ended_at: datetime | None
    ) -> None:
        """Refresh an event while its episode lasts: peak count, best confidence, end time.

        Raises NotFound when the event is not stored (yet: a bus may deliver its END before its START)."""
        status = await self.pool.execute(
            "UPDATE events SET person_count = GREATEST(person_count, $2),"
            " confidence = GREATEST(confidence, $3), ended_at = COALESCE($4, ended_at) WHERE id = $1",
            event_id,
            person_count,
            confidence,
            ended_at,
        )
        if status == "UPDATE 0":
            raise NotFound(f"no event {event_id}")

    async def update_many(self, updates: Sequence[EventUpdate]) -> set[uuid.UUID]:
        """``update`` for many events in one statement and transaction (one WAL flush for all); returns the
        ids of those not stored."""
        merged: dict[uuid.UUID, EventUpdate] = {}
        for event_id, count, confidence, ended_at in updates:
            # One row per event: UPDATE … FROM would apply only one of two rows for the same event.
            _, c0, f0, e0 = merged.get(event_id, (event_id, None, confidence, None))
            peak = count if c0 is None else c0 if count is None else max(c0, count)
            merged[event_id] = (event_id, peak, max(f0, confidence), ended_at or e0)
        rows = list(merged.values())
        found = await self.pool.fetch(
            "UPDATE events e SET person_count = GREATEST(e.person_count, u.person_count),"
            " confidence = GREATEST(e.confidence, u.confidence), ended_at = COALESCE(u.ended_at, e.ended_at)"
            " FROM unnest($1::uuid[], $2::integer[], $3::real[], $4::timestamptz[])"
            " AS u(id, person_count, confidence, ended_at) WHERE e.id = u.id RETURNING e.id",
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            [r[3] for r in rows],
        )
        return set(merged) - {r["id"] for r in found}

    async def incidents_of(self, event_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        """The incident of each of these events that is stored already; the others are left out."""
        rows = await self.pool.fetch(
            "SELECT id, incident_id FROM events WHERE id = ANY($1::uuid[])", list(event_ids)
        )
        return {row["id"]: row["incident_id"] for row in rows}

    async def summary(self, event_id: uuid.UUID) -> dict[str, Any] | None:
        """What a subscriber to the camera's events is told: kind, camera, zone, start, confidence, count."""
        row = await self.pool.fetchrow(
            "SELECT id, kind, camera_id, zone_name, started_at, confidence, person_count FROM events"
            " WHERE id = $1",
            event_id,
        )
        return dict(row) if row is not None else None

    async def incident_of(self, event_id: uuid.UUID) -> uuid.UUID:
        incident_id: uuid.UUID | None = await self.pool.fetchval(
            "SELECT incident_id FROM events WHERE id = $1", event_id
        )
        if incident_id is None:
            raise NotFound(f"no event {event_id}")
        return incident_id


async def _rearm_taken_over(
    conn: asyncpg.Connection, rows: Sequence[asyncpg.Record], openings: dict[str, IncidentOpening]
) -> None:
    """Move the pending timers of incidents whose opening an earlier event took over to its deadlines."""
    due: list[tuple[uuid.UUID, str, datetime]] = []
    for row in rows:
        opening = openings[row["dedup_key"]]
        taken = (
            not row["inserted"]
            and row["opened_at"] == opening.at
            and row["version"] == 1
            and row["state"] == opening.state.value
        )
        if taken:
            due += [(row["id"], kind, row[f"{kind}_by"]) for kind in ("accept", "arrive", "resolve")]
    due = [d for d in due if d[2] is not None]
    if due:
        await conn.execute(_REARM_TIMERS, *(list(column) for column in zip(*due, strict=True)))


def _deadlines(opening: IncidentOpening) -> dict[str, datetime]:
    deadlines = dict(opening.deadlines)
    if opening.accept_by is not None:
        deadlines.setdefault("accept", opening.accept_by)
    return deadlines


def _detections_json(detections: Sequence[Detection], ground: Sequence[LonLat | None]) -> str:
    """The boxes as stored on the event row, each with the ground point under it (null: none known)."""
    # msgspec, not json: the centre's intake writes every START's boxes, and json.dumps was a tenth of it.
    return msgspec.json.encode(
        [
            {
                "xyxy": d.xyxy,
                "confidence": d.confidence,
                "label": d.label,
                "track_id": d.track_id,
                "ground": ground[i] if i < len(ground) else None,
            }
            for i, d in enumerate(detections)
        ]
    ).decode()


def _opening_log(incident_id: uuid.UUID, opening: IncidentOpening) -> list[tuple[Any, ...]]:
    """The log rows of a new incident: the camera reported it; the router filed and dispatched it, unless it
    waits for a reviewer."""
    reported = (incident_id, None, "reported", "report", f"camera:{opening.camera_id}", opening.at, "")
    if opening.state is IncidentState.REPORTED:
        return [reported]
    return [
        reported,
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


# Events reach the store out of capture order when a bus redelivers (a commit cut off by a database
# outage, a restarted centre): an event captured before the open incident's opening moves the opening back
# to its capture time, as if it had come first. While nobody has touched the incident (version 1: no step,
# no escalation) and it was filed the way the earlier event would file it, the earlier event's routing
# replaces the opening's (who was on duty then, its deadlines, its camera and ground point); otherwise
# only opened_at moves, and what people did stands. The incident's log keeps when it was first recorded.
_TAKE_OVER = (
    "(EXCLUDED.opened_at < incidents.opened_at AND incidents.version = 1 AND NOT incidents.late"
    " AND incidents.state = EXCLUDED.state)"
)
_OPENING = (
    "severity",
    "tier",
    "department",
    "category_code",
    "grid_code",
    "grid_match",
    "chain",
    "lon",
    "lat",
    "located_by",
    "camera_id",
    "title",
    "assignee_id",
    "assignee_name",
    "assignee_phone",
    "duty",
    "accept_by",
    "arrive_by",
    "resolve_by",
)
# Each statement takes one array per column (unnest), so a group of any size is one round trip per table;
# jsonb travels as text because the connection's jsonb codec does not reach inside arrays.
_UPSERT_INCIDENTS = (
    "INSERT INTO incidents (id, kind, state, severity, tier, department, category_code, unit_code, grid_code,"
    " grid_match, chain, lon, lat, located_by, camera_id, dedup_key, title, assignee_id, assignee_name,"
    " assignee_phone, duty, opened_at, last_seen_at, event_count, accept_by, arrive_by, resolve_by)"
    " SELECT id, kind, state, severity, tier, department, category_code, unit_code, grid_code,"
    " grid_match, chain::jsonb, lon, lat, located_by, camera_id, dedup_key, title, assignee_id,"
    " assignee_name, assignee_phone, duty::jsonb, opened_at, last_seen_at, event_count, accept_by,"
    " arrive_by, resolve_by FROM unnest($1::uuid[], $2::text[], $3::smallint[], $4::text[], $5::text[],"
    " $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::float8[], $12::float8[],"
    " $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[],"
    " $20::text[], $21::timestamptz[], $22::timestamptz[], $23::int[], $24::timestamptz[],"
    " $25::timestamptz[], $26::timestamptz[], $27::text[]) AS t(id, kind, severity, tier, department,"
    " category_code, unit_code, grid_code, grid_match, chain, lon, lat, located_by, camera_id, dedup_key,"
    " title, assignee_id, assignee_name, assignee_phone, duty, opened_at, last_seen_at, event_count,"
    " accept_by, arrive_by, resolve_by, state)"
    " ON CONFLICT (dedup_key) WHERE gridwatch_open_state(state)"
    " DO UPDATE SET event_count = incidents.event_count + EXCLUDED.event_count,"
    " last_seen_at = GREATEST(incidents.last_seen_at, EXCLUDED.last_seen_at), updated_at = now(),"
    " opened_at = LEAST(incidents.opened_at, EXCLUDED.opened_at), "
    + ", ".join(f"{c} = CASE WHEN {_TAKE_OVER} THEN EXCLUDED.{c} ELSE incidents.{c} END" for c in _OPENING)
    + " RETURNING id, dedup_key, (xmax = 0) AS inserted, opened_at, state, version, accept_by, arrive_by,"
    " resolve_by"
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
# A pending timer moves to the incident's new deadline; a deadline the incident did not have gets its timer.
_REARM_TIMERS = (
    "WITH due AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS u(incident_id, kind,"
    " due_at)), moved AS (UPDATE timers t SET due_at = due.due_at FROM due WHERE t.incident_id ="
    " due.incident_id AND t.kind = due.kind AND t.fired_at IS NULL AND t.cancelled_at IS NULL RETURNING"
    " t.incident_id, t.kind) INSERT INTO timers (incident_id, kind, due_at) SELECT incident_id, kind, due_at"
    " FROM due WHERE NOT EXISTS (SELECT 1 FROM timers t WHERE t.incident_id = due.incident_id AND t.kind ="
    " due.kind) ORDER BY kind"
)
