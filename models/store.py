"""The asyncpg store: the only place that speaks SQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from models.migrate import migrate
from models.records import (
    OPEN_STATES,
    CalibrationPoint,
    Camera,
    Event,
    EventKind,
    Grid,
    GridKind,
    Incident,
    IncidentState,
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
    role: str  # "snapshot" (boxes drawn) or "clean"
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
        new_id = uuid.uuid4()
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "INSERT INTO incidents (id, kind, state, severity, tier, department, category_code,"
                " unit_code, grid_code, grid_match, chain, lon, lat, located_by, camera_id, dedup_key,"
                " title, assignee_id, assignee_name, assignee_phone, duty, opened_at, last_seen_at,"
                " accept_by) VALUES ($1,$2,'dispatched',$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,"
                " $16,$17,$18,$19,$20,$21,$21,$22)"
                f" ON CONFLICT (dedup_key) WHERE state IN ({', '.join(repr(s) for s in _OPEN)})"
                " DO UPDATE SET event_count = incidents.event_count + 1,"
                " last_seen_at = GREATEST(incidents.last_seen_at, EXCLUDED.last_seen_at),"
                " updated_at = now()"
                " RETURNING id, (xmax = 0) AS inserted",
                new_id,
                opening.kind.value,
                int(opening.severity),
                opening.tier.value,
                opening.department,
                opening.category_code,
                opening.unit_code,
                opening.grid_code,
                opening.grid_match,
                [{"code": u.code, "name": u.name, "level": int(u.level)} for u in opening.chain],
                opening.lonlat[0],
                opening.lonlat[1],
                opening.located_by.value,
                opening.camera_id,
                opening.dedup_key,
                opening.title,
                opening.assignee_id,
                opening.assignee_name,
                opening.assignee_phone,
                opening.duty,
                opening.at,
                opening.accept_by,
            )
            assert row is not None
            incident_id: uuid.UUID = row["id"]
            inserted: bool = row["inserted"]
            if inserted:
                await conn.executemany(
                    "INSERT INTO incident_log (incident_id, from_state, to_state, action, actor, at, note)"
                    " VALUES ($1,$2,$3,$4,$5,$6,$7)",
                    [
                        (
                            incident_id,
                            None,
                            "reported",
                            "report",
                            f"camera:{opening.camera_id}",
                            opening.at,
                            "",
                        ),
                        (
                            incident_id,
                            "reported",
                            "dispatched",
                            "dispatch",
                            "system:router",
                            opening.at,
                            f"on duty: {opening.assignee_name or 'nobody'} ({opening.assignee_id or '-'})",
                        ),
                    ],
                )
            await conn.execute(
                "INSERT INTO events (id, kind, camera_id, zone_name, started_at, ended_at, confidence,"
                " person_count, detections, lon, lat, incident_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,"
                " $11,$12)",
                event.id,
                event.kind.value,
                event.camera_id,
                event.zone_name,
                event.started_at,
                event.ended_at,
                event.confidence,
                event.person_count,
                [
                    {
                        "xyxy": list(d.xyxy),
                        "confidence": d.confidence,
                        "label": d.label,
                        "track_id": d.track_id,
                    }
                    for d in event.detections
                ],
                opening.lonlat[0],
                opening.lonlat[1],
                incident_id,
            )
            for blob in evidence:
                await conn.execute(
                    "INSERT INTO evidence (id, event_id, role, media_type, sha256, size, data)"
                    " VALUES ($1,$2,$3,$4,$5,$6,$7)",
                    uuid.uuid4().hex,
                    event.id,
                    blob.role,
                    blob.media_type,
                    blob.sha256,
                    len(blob.data),
                    blob.data,
                )
            await conn.execute(
                "INSERT INTO outbox (topic, incident_id, payload) VALUES ($1, $2, $3)",
                "incident.opened" if inserted else "incident.updated",
                incident_id,
                {"incident_id": str(incident_id), "event_id": str(event.id)},
            )
        return incident_id, inserted

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


def _camera_row(c: Camera) -> tuple[Any, ...]:
    return (
        c.id,
        c.name,
        c.source,
        c.frame_size[0],
        c.frame_size[1],
        {"lonlat": list(c.mount.lonlat), "height_m": c.mount.height_m, "heading_deg": c.mount.heading_deg},
        [{"px": list(p.px), "lonlat": list(p.lonlat)} for p in c.calibration],
        [
            {
                "name": z.name,
                "kind": z.kind.value,
                "polygon_px": [list(p) for p in z.polygon_px],
                "min_persons": z.min_persons,
                "min_seconds": z.min_seconds,
                "cooldown_seconds": z.cooldown_seconds,
            }
            for z in c.zones
        ],
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
            )
            for z in r["zones"]
        ),
        analysis_fps=r["analysis_fps"],
        enabled=r["enabled"],
    )
