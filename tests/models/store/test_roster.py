"""store.roster: the duty roster round-trips, overnight shifts and weekdays included."""

from __future__ import annotations

from models.records import Role, Shift
from models.store import Store
from tests.models.store.samples import sample_grid


async def test_roster_round_trips(store: Store) -> None:
    grid = sample_grid()
    await store.grids.replace([grid])  # a shift's unit must exist
    shift = Shift("w002", "李强", "13800000002", Role.GRID_WORKER, grid.code, frozenset({1, 2}), 1200, 480)
    await store.roster.replace([shift])
    assert await store.roster.load() == [shift]
