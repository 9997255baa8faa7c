"""The duty roster: who is on duty for which unit, on which weekdays, between which wall-clock times;
who is away when, and who covers for them.

Every write bumps the roster's version and announces it on the channel ``gridwatch_roster`` in the same
transaction (trigger of migration 0009), so a running centre hears of a change any process commits.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from models.records import Absence, Role, Shift
from models.store.base import TRANSIENT_DB_ERRORS, Repository

logger = logging.getLogger(__name__)

#: The channel every committed roster change is announced on, with the new version as its payload.
CHANNEL = "gridwatch_roster"

_INSERT_SHIFT = (
    "INSERT INTO shifts (worker_id, name, phone, role, unit_code, weekdays, start_minute, end_minute)"
    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8)"
)
_INSERT_ABSENCE = (
    "INSERT INTO absences (worker_id, starts_at, ends_at, cover_id, reason, source, created_by)"
    " VALUES ($1,$2,$3,$4,$5,$6,$7) RETURNING id"
)


class RosterListener:
    """A connection held out of the pool that hears roster changes; ``alive`` is False once it is lost."""

    def __init__(self, pool: asyncpg.Pool, conn: Any, callback: Callable[[Any, int, str, str], None]) -> None:
        self._pool = pool
        self._conn = conn
        self._callback = callback
        self._released = False

    @property
    def alive(self) -> bool:
        if self._released:
            return False
        try:
            return not self._conn.is_closed()
        except asyncpg.InterfaceError:  # the pool took the connection back
            return False

    async def close(self) -> None:
        if self._released:
            return
        self._released = True
        with contextlib.suppress(*TRANSIENT_DB_ERRORS):
            if not self._conn.is_closed():
                await self._conn.remove_listener(CHANNEL, self._callback)
        with contextlib.suppress(*TRANSIENT_DB_ERRORS):
            await self._pool.release(self._conn)


class RosterRepository(Repository):
    async def replace(self, shifts: Sequence[Shift], absences: Sequence[Absence] | None = None) -> None:
        """Replace every shift; with ``absences``, also the absences a previous import brought (those
        entered through the API stay)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM shifts")
            await conn.executemany(_INSERT_SHIFT, [_shift_row(s) for s in shifts])
            if absences is not None:
                await conn.execute("DELETE FROM absences WHERE source = 'import'")
                for absence in absences:
                    await conn.fetchval(_INSERT_ABSENCE, *_absence_row(absence, "import", "import-roster"))

    async def replace_unit(self, unit_prefix: str, shifts: Sequence[Shift]) -> int:
        """Replace the shifts of the units under ``unit_prefix`` (callers check ``shifts`` lie there);
        returns how many were removed."""
        async with self.pool.acquire() as conn, conn.transaction():
            status = await conn.execute("DELETE FROM shifts WHERE unit_code LIKE $1", unit_prefix + "%")
            await conn.executemany(_INSERT_SHIFT, [_shift_row(s) for s in shifts])
        return int(status.split()[-1])

    async def add(self, shifts: Sequence[Shift]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(_INSERT_SHIFT, [_shift_row(s) for s in shifts])

    async def load(self, unit_prefix: str = "") -> list[Shift]:
        rows = await self.pool.fetch(
            "SELECT * FROM shifts WHERE unit_code LIKE $1 ORDER BY worker_id, id", unit_prefix + "%"
        )
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

    async def add_absence(self, absence: Absence, created_by: str) -> Absence:
        absence_id = await self.pool.fetchval(
            _INSERT_ABSENCE, *_absence_row(absence, absence.source, created_by)
        )
        return Absence(
            absence.worker_id,
            absence.starts_at,
            absence.ends_at,
            absence.cover_id,
            absence.reason,
            absence.source,
            int(absence_id),
        )

    async def remove_absence(self, absence_id: int) -> Absence | None:
        row = await self.pool.fetchrow("DELETE FROM absences WHERE id = $1 RETURNING *", absence_id)
        return _absence(row) if row is not None else None

    async def absence(self, absence_id: int) -> Absence | None:
        row = await self.pool.fetchrow("SELECT * FROM absences WHERE id = $1", absence_id)
        return _absence(row) if row is not None else None

    async def absences(self, ending_after: datetime | None = None) -> list[Absence]:
        """Absences that end after ``ending_after`` (all without it), earliest start first."""
        rows = await self.pool.fetch(
            "SELECT * FROM absences WHERE $1::timestamptz IS NULL OR ends_at > $1 ORDER BY starts_at, id",
            ending_after,
        )
        return [_absence(r) for r in rows]

    async def version(self) -> int:
        """The roster's version: bumped by every committed change of shifts or absences."""
        return int(await self.pool.fetchval("SELECT version FROM roster_state"))

    async def listen(self, on_change: Callable[[int], None]) -> RosterListener:
        """Call ``on_change(version)`` for every roster change committed from now on, by any process."""

        def callback(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            on_change(int(payload) if payload.isdigit() else 0)

        conn = await self.pool.acquire()
        try:
            await conn.add_listener(CHANNEL, callback)
        except BaseException:
            await self.pool.release(conn)
            raise
        return RosterListener(self.pool, conn, callback)


def _shift_row(s: Shift) -> tuple[Any, ...]:
    return (s.worker_id, s.name, s.phone, s.role.value, s.unit_code, sorted(s.weekdays), s.start_minute,
            s.end_minute)  # fmt: skip


def _absence_row(a: Absence, source: str, created_by: str) -> tuple[Any, ...]:
    return (a.worker_id, a.starts_at, a.ends_at, a.cover_id, a.reason, source, created_by)


def _absence(r: Any) -> Absence:
    return Absence(
        worker_id=r["worker_id"],
        starts_at=r["starts_at"],
        ends_at=r["ends_at"],
        cover_id=r["cover_id"],
        reason=r["reason"],
        source=r["source"],
        id=r["id"],
    )
