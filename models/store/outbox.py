"""The outbox: one row per incident change, written with the change, read by the live feed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.store.base import Repository


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    #: incident.opened, incident.updated, incident.escalated, incident.<state> (camera verification)
    topic: str
    incident_id: uuid.UUID | None
    payload: dict[str, Any]
    created_at: datetime


class OutboxRepository(Repository):
    async def pending(self, after_id: int = 0, limit: int = 100) -> list[OutboxRow]:
        """Rows the live feed has not delivered yet, oldest first."""
        rows = await self.pool.fetch(
            "SELECT id, topic, incident_id, payload, created_at FROM outbox"
            " WHERE delivered_at IS NULL AND id > $1 ORDER BY id LIMIT $2",
            after_id,
            limit,
        )
        return [OutboxRow(r["id"], r["topic"], r["incident_id"], r["payload"], r["created_at"]) for r in rows]

    async def mark_delivered(self, outbox_ids: Sequence[int]) -> None:
        if outbox_ids:
            await self.pool.execute(
                "UPDATE outbox SET delivered_at = now(), attempts = attempts + 1 WHERE id = ANY($1)",
                list(outbox_ids),
            )
