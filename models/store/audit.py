"""The audit trail: who viewed or changed what, when, from where and why; and the check that neither it
nor the incident log was rewritten (both are append-only and hash-chained, migration 0008)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

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

    async def verify(self, batch: int = 5000) -> ChainReport:
        """Walk both hash chains (migration 0008) in one snapshot; the first break of each table.

        The content is serialized here again rather than through the migration's SQL functions, so a
        function replaced by whoever edited the rows does not vouch for them.
        """
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            heads = {
                r["table_name"]: (r["seq"], r["hash"])
                for r in await conn.fetch("SELECT table_name, seq, hash FROM audit_chain_heads")
            }
            counts: dict[str, int] = {}
            breaks: list[ChainBreak] = []
            for table, content in CHAINED_TABLES.items():
                count, found = await _walk(conn, table, content, heads.get(table), batch)
                counts[table] = count
                if found is not None:
                    breaks.append(found)
        return ChainReport(counts, tuple(breaks))


#: Each chained table and what its rows' hashes cover; the same as migration 0008's
#: gridwatch_audit_content and gridwatch_incident_log_content.
CHAINED_TABLES = {
    "audit_log": "jsonb_build_array(id, chain_seq, extract(epoch FROM at)::text, actor, action,"
    " object_type, object_id, reason, client)::text",
    "incident_log": "jsonb_build_array(id, chain_seq, incident_id::text, from_state, to_state, action,"
    " actor, extract(epoch FROM at)::text, note, attachments, reason, rating)::text",
}
GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first row of a table whose place in the chain does not hold; row_id None: the chain's end."""

    table: str
    row_id: int | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.table} row {self.row_id}" if self.row_id is not None else self.table
        return f"{where}: {self.problem}"


@dataclass(frozen=True, slots=True)
class ChainReport:
    rows: dict[str, int]
    breaks: tuple[ChainBreak, ...]

    @property
    def intact(self) -> bool:
        return not self.breaks


async def _walk(
    conn: asyncpg.Connection, table: str, content: str, head: tuple[int, str] | None, batch: int
) -> tuple[int, ChainBreak | None]:
    if head is None:
        return 0, ChainBreak(table, None, "its chain head is missing")
    query = (
        f"SELECT id, chain_seq, prev_hash, row_hash,"
        f" encode(sha256(convert_to(prev_hash || E'\\n' || {content}, 'UTF8')), 'hex') AS computed"
        f" FROM {table} WHERE chain_seq > $1 ORDER BY chain_seq LIMIT $2"
    )
    seq, last_id, last_hash = 0, None, GENESIS
    while True:
        rows = await conn.fetch(query, seq, batch)
        for row in rows:
            problem = _mismatch(row, seq, last_id, last_hash, head[0])
            if problem:
                return seq, ChainBreak(table, row["id"], problem)
            seq, last_id, last_hash = row["chain_seq"], row["id"], row["row_hash"]
        if len(rows) < batch:
            break
    if seq < head[0]:
        problem = f"the chain ends after {seq} rows but its head says {head[0]}: rows removed from the end"
        return seq, ChainBreak(table, None, problem)
    if last_hash != head[1]:
        return seq, ChainBreak(table, last_id, "its hash differs from the chain's head")
    return seq, None


def _mismatch(row: asyncpg.Record, seq: int, last_id: int | None, last_hash: str, head_seq: int) -> str:
    """Why ``row`` cannot follow row ``last_id`` (numbered ``seq``, hash ``last_hash``); "" if it can."""
    if row["chain_seq"] != seq + 1:
        return (
            f"numbered {row['chain_seq']} in the chain where {seq + 1} belongs:"
            " a row before it was removed or renumbered"
        )
    if row["prev_hash"] != last_hash:
        after = f"row {last_id}" if last_id is not None else "the chain's start"
        return f"does not follow {after} (its previous hash differs)"
    if row["computed"] != row["row_hash"]:
        return "its content does not match its hash: edited"
    if row["chain_seq"] > head_seq:
        return "it lies beyond the chain's head: appended with the triggers off"
    return ""
