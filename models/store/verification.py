"""Camera-verified closure: what the camera saw after a resolution, and the verdict written back."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from models.store.base import Repository


class VerificationRepository(Repository):
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


async def _fold_duplicate(
    conn: asyncpg.Connection, twin: uuid.UUID, into: uuid.UUID, at: datetime, actor: str
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
