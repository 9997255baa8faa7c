"""store.roster: absences, and the version every roster write bumps and announces in its transaction."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from models.records import Absence, Role, Shift
from models.store import Store
from tests.models.store.samples import sample_grid

T = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def shifts(code: str) -> list[Shift]:
    return [
        Shift("w001", "王芳", "138", Role.GRID_WORKER, code, frozenset({1}), 480, 1200),
        Shift("w002", "李强", "139", Role.GRID_WORKER, code, frozenset({1}), 1200, 480),
    ]


async def test_an_import_replaces_its_own_absences_and_keeps_those_entered_by_hand(store: Store) -> None:
    code = sample_grid().code
    await store.grids.replace([sample_grid()])
    by_hand = await store.roster.add_absence(
        Absence("w002", T, T + timedelta(days=1), None, "年假"), "leader"
    )
    imported = Absence("w001", T, T + timedelta(hours=8), "w002", "病假", "import")
    await store.roster.replace(shifts(code), [imported])
    await store.roster.replace(shifts(code), [imported])  # importing the same file twice keeps one
    stored = await store.roster.absences()
    assert [(a.worker_id, a.source, a.cover_id) for a in stored] == [
        ("w002", "api", None),
        ("w001", "import", "w002"),
    ]
    assert stored[0] == by_hand
    await store.roster.replace(shifts(code), [])  # a file without leave ends the imported leave
    assert await store.roster.absences() == [by_hand]
    assert await store.roster.absences(ending_after=T + timedelta(days=1)) == []
    assert await store.roster.remove_absence(by_hand.id or 0) == by_hand
    assert await store.roster.remove_absence(by_hand.id or 0) is None


async def test_the_database_refuses_leave_that_ends_before_it_starts_or_covers_itself(store: Store) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await store.roster.add_absence(Absence("w001", T, T, None), "x")
    with pytest.raises(asyncpg.CheckViolationError):
        await store.roster.add_absence(Absence("w001", T, T + timedelta(hours=1), "w001"), "x")


async def test_every_committed_roster_write_is_announced_with_its_version(store: Store) -> None:
    code = sample_grid().code
    await store.grids.replace([sample_grid()])
    heard: asyncio.Queue[int] = asyncio.Queue()
    listener = await store.roster.listen(heard.put_nowait)
    try:
        before = await store.roster.version()
        await store.roster.replace_unit(code, shifts(code)[:1])
        await store.roster.add_absence(Absence("w001", T, T + timedelta(hours=1)), "x")
        versions = [await asyncio.wait_for(heard.get(), 5) for _ in range(3)]  # delete, insert, absence
        assert (
            versions == [before + 1, before + 2, before + 3] == [*versions[:2], await store.roster.version()]
        )
        # A write that rolls back is never announced.
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await store.roster.add(
                [Shift("w009", "x", "1", Role.GRID_WORKER, "379901999999999", frozenset({1}), 0, 60)]
            )
        await asyncio.sleep(0.2)
        assert heard.empty() and await store.roster.version() == versions[-1]
    finally:
        await listener.close()
    assert not listener.alive
