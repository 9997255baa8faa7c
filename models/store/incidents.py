"""Incidents as read models, their log, their events, and moving an incident from one state to the next."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from models.catalogue import CATALOGUE
from models.incidents import EventRecord, Incident, IncidentFilter, LogEntry, StoredBox
from models.records import (
    Assignee,
    EventKind,
    Evidence,
    GridMatch,
    IncidentState,
    LocatedBy,
    Severity,
    Tier,
)
from models.store.base import NotFound, OpenTwin, Repository, StaleVersion, units_from_json

#: Steps the chat robots announce in words of their own (router/notify/formats.py): a verification, and a
#: reopening (返工), which tells the assignee the case is back with them. Every other step is an update.
_TOPICS: Mapping[IncidentState, str] = {
    IncidentState.VERIFIED: "incident.verified",
    IncidentState.REOPENED: "incident.reopened",
}


#: An incident with the labels of its events' boxes, from which an occupation's occupant is read (what
#: occupies is what the detector saw: no column of its own to drift from the evidence).
_SELECT_INCIDENTS = (
    "SELECT i.*, CASE WHEN i.kind = 'occupation' THEN (SELECT array_agg(DISTINCT b->>'label') FROM events e"
    " CROSS JOIN LATERAL jsonb_array_elements(e.detections) b WHERE e.incident_id = i.id) END AS box_labels"
    " FROM incidents i"
)


class IncidentRepository(Repository):
    async def get(self, incident_id: uuid.UUID) -> Incident:
        row = await self.pool.fetchrow(f"{_SELECT_INCIDENTS} WHERE i.id = $1", incident_id)
        if row is None:
            raise NotFound(f"no incident {incident_id}")
        return incident_from_row(row)

    async def page(
        self, filt: IncidentFilter | None = None, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[Incident], int]:
        """One page of the incidents ``filt`` selects (all without one), newest first, and how many it
        selects in all."""
        where, args = _where(filt or IncidentFilter())
        total = await self.pool.fetchval(f"SELECT count(*) FROM incidents {where}", *args)
        rows = await self.pool.fetch(
            f"{_SELECT_INCIDENTS} {where} ORDER BY i.opened_at DESC, i.id"
            f" LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
            *args,
            limit,
            offset,
        )
        return [incident_from_row(r) for r in rows], int(total)

    async def apply(
        self,
        entry: LogEntry,
        *,
        handover: Assignee | None = None,
        deadlines: Mapping[str, datetime] | None = None,
    ) -> None:
        """Move an incident from ``entry.from_state`` to ``entry.to_state`` and log it.

        ``handover`` gives the case to that person; ``deadlines`` (timer kind → due) replaces the live
        deadline timers with fresh ones, as every dispatch, reassignment and reopening does. StaleVersion if
        it is no longer in ``from_state`` (someone moved it meanwhile), NotFound if there is no such
        incident, OpenTwin if reopening it would clash with an open recurrence. The outbox row announcing the
        change commits with it.
        """
        if entry.from_state is None:
            raise ValueError("a transition starts from a state")
        async with self.pool.acquire() as conn, conn.transaction():
            try:
                status = await conn.execute(
                    "UPDATE incidents SET state = $2, version = version + 1, updated_at = now()"
                    " WHERE id = $1 AND state = $3",
                    entry.incident_id,
                    entry.to_state.value,
                    entry.from_state.value,
                )
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name != "incidents_open_dedup":
                    raise
                twin = await self._twin(entry.incident_id)
                raise OpenTwin(entry.incident_id, twin[0], twin[1]) from None
            if status != "UPDATE 1":
                exists = await conn.fetchval("SELECT 1 FROM incidents WHERE id = $1", entry.incident_id)
                if not exists:
                    raise NotFound(f"no incident {entry.incident_id}")
                raise StaleVersion(f"incident {entry.incident_id} is no longer {entry.from_state.value}")
            if handover is not None:
                await conn.execute(
                    "UPDATE incidents SET assignee_id = $2, assignee_name = $3, assignee_phone = $4,"
                    " duty = duty || jsonb_build_object('role', $5::text, 'handed_over_by', $6::text)"
                    " WHERE id = $1",
                    entry.incident_id,
                    handover.worker_id,
                    handover.name,
                    handover.phone,
                    handover.role.value,
                    entry.actor,
                )
            if deadlines is not None:
                await _rearm(conn, entry.incident_id, deadlines)
            await conn.execute(
                "INSERT INTO incident_log (incident_id, from_state, to_state, action, actor, at, note,"
                " attachments, reason, rating) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
                entry.incident_id,
                entry.from_state.value,
                entry.to_state.value,
                entry.action,
                entry.actor,
                entry.at,
                entry.note,
                list(entry.attachments),
                entry.reason,
                entry.rating,
            )
            await conn.execute(
                "INSERT INTO outbox (topic, incident_id, payload) VALUES ($1, $2, $3)",
                _TOPICS.get(entry.to_state, "incident.updated"),
                entry.incident_id,
                {
                    "incident_id": str(entry.incident_id),
                    "state": entry.to_state.value,
                    "action": entry.action,
                },
            )

    async def _twin(self, incident_id: uuid.UUID) -> tuple[uuid.UUID, str]:
        row = await self.pool.fetchrow(
            "SELECT t.id, t.state FROM incidents i JOIN incidents t ON t.dedup_key = i.dedup_key"
            " AND t.id <> i.id AND gridwatch_open_state(t.state) WHERE i.id = $1",
            incident_id,
        )
        assert row is not None, "a dedup clash names an open twin"
        return row["id"], row["state"]

    async def resolver(self, incident_id: uuid.UUID) -> str | None:
        """Who took the case's last resolve step (None before it was ever resolved)."""
        return (await self.resolvers([incident_id])).get(incident_id)

    async def resolvers(self, incident_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        """Who took each case's last resolve step, for the cases that were ever resolved."""
        rows = await self.pool.fetch(
            "SELECT DISTINCT ON (incident_id) incident_id, actor FROM incident_log"
            " WHERE incident_id = ANY($1) AND action = 'resolve' ORDER BY incident_id, id DESC",
            list(incident_ids),
        )
        return {r["incident_id"]: r["actor"] for r in rows}

    async def log(self, incident_id: uuid.UUID) -> list[LogEntry]:
        rows = await self.pool.fetch(
            "SELECT from_state, to_state, action, actor, at, note, attachments, reason, rating"
            " FROM incident_log WHERE incident_id = $1 ORDER BY id",
            incident_id,
        )
        return [
            LogEntry(
                incident_id=incident_id,
                from_state=IncidentState(r["from_state"]) if r["from_state"] else None,
                to_state=IncidentState(r["to_state"]),
                action=r["action"],
                actor=r["actor"],
                at=r["at"],
                note=r["note"],
                attachments=tuple(r["attachments"]),
                reason=r["reason"],
                rating=r["rating"],
            )
            for r in rows
        ]

    async def events(self, incident_id: uuid.UUID) -> list[EventRecord]:
        rows = await self.pool.fetch(
            "SELECT e.id, e.kind, e.camera_id, e.zone_name, e.started_at, e.ended_at, e.confidence,"
            " e.person_count, e.detections, e.lon, e.lat, coalesce(json_agg(json_build_object('id', v.id,"
            " 'role', v.role, 'media_type', v.media_type, 'sha256', v.sha256, 'size', v.size)"
            " ORDER BY v.created_at, v.id) FILTER (WHERE v.id IS NOT NULL), '[]')::jsonb AS evidence"
            " FROM events e LEFT JOIN evidence v ON v.event_id = e.id AND v.pruned_at IS NULL"
            " WHERE e.incident_id = $1 GROUP BY e.id ORDER BY e.started_at",
            incident_id,
        )
        return [_event_record(r) for r in rows]

    async def note(self, incident_id: uuid.UUID, at: datetime, action: str, actor: str, note: str) -> None:
        """Log a note on an incident without moving it (a link restored); its pages refresh."""
        async with self.pool.acquire() as conn, conn.transaction():
            state = await conn.fetchval("SELECT state FROM incidents WHERE id = $1 FOR UPDATE", incident_id)
            if state is None:
                raise NotFound(f"incident {incident_id}")
            await conn.execute(
                "INSERT INTO incident_log (incident_id, from_state, to_state, action, actor, at, note)"
                " VALUES ($1, $2, $2, $3, $4, $5, $6)",
                incident_id,
                state,
                action,
                actor,
                at,
                note,
            )
            await conn.execute(
                "INSERT INTO outbox (topic, incident_id, payload) VALUES ('incident.updated', $1, $2::jsonb)",
                incident_id,
                json.dumps({"incident_id": str(incident_id), "note": action}),
            )


async def _rearm(conn: asyncpg.Connection, incident_id: uuid.UUID, deadlines: Mapping[str, datetime]) -> None:
    """Retire the live deadline timers and arm fresh ones; the incident shows the new deadlines."""
    await conn.execute(
        "UPDATE timers SET cancelled_at = now(), outcome = 'superseded'"
        " WHERE incident_id = $1 AND fired_at IS NULL AND cancelled_at IS NULL",
        incident_id,
    )
    await conn.executemany(
        "INSERT INTO timers (incident_id, kind, due_at) VALUES ($1, $2, $3)",
        [(incident_id, kind, due) for kind, due in sorted(deadlines.items())],
    )
    await conn.execute(
        "UPDATE incidents SET late = false, accept_by = COALESCE($2, accept_by),"
        " arrive_by = COALESCE($3, arrive_by), resolve_by = COALESCE($4, resolve_by) WHERE id = $1",
        incident_id,
        deadlines.get("accept"),
        deadlines.get("arrive"),
        deadlines.get("resolve"),
    )


def incident_from_row(r: Any) -> Incident:
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
        grid_match=GridMatch(r["grid_match"]),
        chain=units_from_json(r["chain"]),
        assignee_name=r["assignee_name"],
        assignee_phone=r["assignee_phone"],
        duty=r["duty"],
        arrive_by=r["arrive_by"],
        resolve_by=r["resolve_by"],
        escalation_level=r["escalation_level"],
        version=r["version"],
        occupant=CATALOGUE.occupant_of(r.get("box_labels") or ()),
    )


def _event_record(r: Any) -> EventRecord:
    lonlat = (r["lon"], r["lat"]) if r["lon"] is not None and r["lat"] is not None else None
    return EventRecord(
        id=r["id"],
        kind=EventKind(r["kind"]),
        camera_id=r["camera_id"],
        zone_name=r["zone_name"],
        started_at=r["started_at"],
        ended_at=r["ended_at"],
        confidence=r["confidence"],
        person_count=r["person_count"],
        boxes=tuple(
            StoredBox(
                xyxy=(b["xyxy"][0], b["xyxy"][1], b["xyxy"][2], b["xyxy"][3]),
                confidence=b["confidence"],
                label=b["label"],
                track_id=b.get("track_id"),
                ground=(b["ground"][0], b["ground"][1]) if b.get("ground") else None,
            )
            for b in r["detections"]
        ),
        lonlat=lonlat,
        evidence=tuple(
            Evidence(
                id=v["id"], media_type=v["media_type"], sha256=v["sha256"], size=v["size"], role=v["role"]
            )
            for v in r["evidence"]
        ),
    )


def _where(filt: IncidentFilter) -> tuple[str, list[Any]]:
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
