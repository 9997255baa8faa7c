"""Evidence retention: prune the bytes of evidence whose case is no longer open, by age and by quota.

What may go is decided here, one statement per rule, and the update re-checks that a row is still held, so
two centres pruning at once never prune (or audit) one evidence twice; each rule writes an audit row per
evidence in its own transaction. Evidence of an open incident is never a candidate, whatever the quota says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from models.store.base import Repository

ACTOR = "system:retention"

#: Evidence no open case needs: its event belongs to no incident, or to one in a state that is not open.
_PRUNABLE = (
    "v.pruned_at IS NULL AND NOT EXISTS (SELECT 1 FROM events e JOIN incidents i ON i.id = e.incident_id"
    " WHERE e.id = v.event_id AND gridwatch_open_state(i.state))"
)


@dataclass(frozen=True, slots=True)
class PrunedEvidence:
    id: str
    size: int
    created_at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Holding:
    """What evidence the store holds now: bytes not pruned, and of those, bytes open cases keep."""

    held_bytes: int
    open_bytes: int
    pruned_count: int


class RetentionRepository(Repository):
    async def holding(self) -> Holding:
        row = await self.pool.fetchrow(
            "SELECT coalesce(sum(v.size) FILTER (WHERE v.pruned_at IS NULL), 0) AS held,"
            " coalesce(sum(v.size) FILTER (WHERE v.pruned_at IS NULL AND NOT ("
            + _PRUNABLE
            + ")), 0) AS open,"
            " count(*) FILTER (WHERE v.pruned_at IS NOT NULL) AS pruned FROM evidence v"
        )
        assert row is not None
        return Holding(int(row["held"]), int(row["open"]), int(row["pruned"]))

    async def prune_older_than(
        self, cutoffs: Mapping[str, datetime | None], default: datetime | None, now: datetime
    ) -> list[PrunedEvidence]:
        """Prune evidence created before its event kind's cutoff (``default`` for kinds not named; None and
        kinds absent with no default are kept for ever)."""
        kinds = list(cutoffs)
        return await self._prune(
            "SELECT v.id FROM evidence v JOIN events ev ON ev.id = v.event_id WHERE " + _PRUNABLE + " AND"
            " v.created_at < CASE WHEN ev.kind = ANY($3::text[])"
            "  THEN ($4::timestamptz[])[array_position($3::text[], ev.kind)] ELSE $5::timestamptz END",
            now,
            "older than its kind's retention",
            kinds,
            [cutoffs[k] for k in kinds],
            default,
        )

    async def prune_to_quota(self, quota_bytes: int, now: datetime) -> list[PrunedEvidence]:
        """Prune the oldest prunable evidence until what is held fits ``quota_bytes`` (or nothing prunable
        is left: open cases' evidence stays even over quota)."""
        return await self._prune(
            "WITH held AS (SELECT coalesce(sum(size), 0) AS total FROM evidence WHERE pruned_at IS NULL),"
            " candidates AS (SELECT v.id, v.created_at, sum(v.size) OVER (ORDER BY v.created_at, v.id)"
            "  - v.size AS freed_before FROM evidence v WHERE " + _PRUNABLE + ")"
            " SELECT c.id FROM candidates c, held WHERE held.total - c.freed_before > $3",
            now,
            f"over the evidence quota of {quota_bytes / 1e6:.0f} MB",
            quota_bytes,
        )

    async def _prune(self, select: str, now: datetime, reason: str, *args: object) -> list[PrunedEvidence]:
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "WITH chosen AS (" + select + ")"
                " UPDATE evidence v SET data = ''::bytea, pruned_at = $1, pruned_reason = $2"
                " FROM chosen WHERE v.id = chosen.id AND v.pruned_at IS NULL"
                " RETURNING v.id, v.size, v.created_at",
                now,
                reason,
                *args,
            )
            if rows:
                await conn.executemany(
                    "INSERT INTO audit_log (actor, action, object_type, object_id, reason)"
                    " VALUES ($1, 'prune_evidence', 'evidence', $2, $3)",
                    [
                        (ACTOR, r["id"], f"{reason}; {r['size']} bytes of {r['created_at']:%Y-%m-%d}")
                        for r in rows
                    ],
                )
        return [PrunedEvidence(r["id"], int(r["size"]), r["created_at"], reason) for r in rows]
