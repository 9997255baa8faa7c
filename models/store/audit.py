"""The audit trail: who viewed or changed what, when, from where and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models.store.base import Repository


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    reason: str
    client: str


class AuditRepository(Repository):
    async def record(
        self, *, actor: str, action: str, object_type: str, object_id: str, reason: str = "", client: str = ""
    ) -> None:
        await self.pool.execute(
            "INSERT INTO audit_log (actor, action, object_type, object_id, reason, client)"
            " VALUES ($1,$2,$3,$4,$5,$6)",
            actor,
            action,
            object_type,
            object_id,
            reason,
            client,
        )

    async def entries(self, object_type: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """The newest entries first, of one kind of object or of all."""
        rows = await self.pool.fetch(
            "SELECT id, at, actor, action, object_type, object_id, reason, client FROM audit_log"
            " WHERE $1::text IS NULL OR object_type = $1 ORDER BY id DESC LIMIT $2",
            object_type,
            limit,
        )
        return [AuditEntry(**dict(r)) for r in rows]
