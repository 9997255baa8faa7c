"""The duty roster: who is on duty for which unit, on which weekdays, between which wall-clock times."""

from __future__ import annotations

from collections.abc import Sequence

from models.records import Role, Shift
from models.store.base import Repository


class RosterRepository(Repository):
    async def replace(self, shifts: Sequence[Shift]) -> None:
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

    async def load(self) -> list[Shift]:
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
