"""The hierarchy and its grids: county → township → community → grid, replaced as a whole layer."""

from __future__ import annotations

from collections.abc import Sequence

from models.records import Grid, GridKind, Unit, UnitLevel
from models.store.base import Repository


class GridRepository(Repository):
    async def replace(self, grids: Sequence[Grid]) -> None:
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

    async def load(self) -> list[Grid]:
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

    async def units(self) -> list[Unit]:
        rows = await self.pool.fetch("SELECT code, name, level, parent_code FROM units ORDER BY code")
        return [Unit(r["code"], r["name"], UnitLevel(r["level"]), r["parent_code"]) for r in rows]
