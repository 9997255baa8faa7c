"""store.grids: the grid layer and its units round-trip."""

from __future__ import annotations

from models.store import Store
from tests.models.store.samples import sample_grid


async def test_grids_round_trip_with_their_units(store: Store) -> None:
    grid = sample_grid()
    await store.grids.replace([grid])
    assert await store.grids.load() == [grid]
    assert {"379901", "379901001", "379901001001", grid.code} <= await store.grids.unit_codes()
