"""Camera-verified closure: what the camera saw after a resolution, and the verdict written back."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from models.incidents import Sighting
from models.store.base import Repository, StaleVersion


class VerificationRepository(Repository):
    async def sightings(self, incident_id: uuid.UUID, since: datetime) -> list[Sighting]:
        """Events of the incident's kind on its camera and zones that were seen after `since`.

        An event still open from before `since` counts only once it is known to have lasted past it
        (ended_at): an event whose end was never recorded (a restart mid-episode) would otherwise
        block verification for ever.
        """
        rows = await self.pool.fetch(
            "SELECT e.id, e.started_at, e.ended_at, coalesce(array_agg(v.id)"
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
        return [Sighting(r["id"], r["started_at"], r["ended_at"], tuple(r["evidence"])) for r in rows]

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
                "SELECT id FROM incidents WHERE dedup_key = $1 AND id <> $2 AND gridwatch_open_state(state)"
                " FOR UPDATE",
                key,
                incident_id,
            )
            if twin is not None:
                await _fold_duplicate(conn, twin, incident_id, at)
            await _log_transition(conn, incident_id, "resolved", "reopened", "reopen", at, note, attachments)
        return twin

    async def fold_twin(self, incident_id: uuid.UUID, *, at: datetime) -> uuid.UUID | None:
        """Fold the open recurrence of a resolved incident into it, so that the camera can reopen it.

        The camera saw the problem again and its new episode opened an incident of its own under the same
        dedup key: that one is a duplicate report of this case (its events move here, it is rejected as a
        duplicate). Returns the folded incident's id, or None when there was none or this one is no longer
        resolved (the reopen that follows then finds out why).
        """
        async with self.pool.acquire() as conn, conn.transaction():
            key = await conn.fetchval(
                "SELECT dedup_key FROM incidents WHERE id = $1 AND state = 'resolved' FOR UPDATE", incident_id
            )
            if key is None:
                return None
            twin: uuid.UUID | None = await conn.fetchval(
                "SELECT id FROM incidents WHERE dedup_key = $1 AND id <> $2 AND gridwatch_open_state(state)"
                " FOR UPDATE",
                key,
                incident_id,
            )
            if twin is not None:
                await _fold_duplicate(conn, twin, incident_id, at, actor="camera")
                await conn.execute(
                    "INSERT INTO outbox (topic, incident_id, payload) VALUES ('incident.updated', $1, $2)",
                    twin,
                    {"incident_id": str(twin), "state": "rejected", "action": "merge"},
                )
        return twin

    async def verify_clear(self, incident_id: uuid.UUID, *, at: datetime, note: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            status = await conn.execute(
                "SELECT 1 FROM incidents WHERE id = $1 AND state = 'resolved' FOR UPDATE", incident_id
            )
            if status != "SELECT 1":
                raise StaleVersion(f"incident {incident_id} is not resolved")
            await _log_transition(conn, incident_id, "resolved", "verified", "verify", at, note, ())


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


async def _fold_duplicate(
    conn: asyncpg.Connection, twin: uuid.UUID, into: uuid.UUID, at: datetime, actor: str = "system:verifier"
) -> None:
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
        " VALUES ($1, $2, 'rejected', 'merge', $5, $3, $4)",
        twin,
        state,
        at,
        f"duplicate of {into}, which camera verification reopened",
        actor,
    )
