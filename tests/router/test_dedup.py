from __future__ import annotations

import pytest

from models.records import EventKind
from router.crs import LocalProjection, haversine_m
from router.dedup import dedup_key, ground_cell

QINGHE = (118.63, 35.7907687)


def _offset(east_m: float, north_m: float) -> tuple[float, float]:
    return LocalProjection(QINGHE).to_lonlat((east_m, north_m))


def test_key_is_stable_text_naming_unit_kind_and_cell() -> None:
    key = dedup_key("379901001001001", EventKind.CROWD, QINGHE)
    assert key == dedup_key("379901001001001", EventKind.CROWD, QINGHE)
    assert key.startswith("379901001001001|crowd|100m:")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (("379901001001001", EventKind.CROWD), ("379901001001001", EventKind.FIRE), False),
        (("379901001001001", EventKind.CROWD), ("379901001001002", EventKind.CROWD), False),
        (("379901001001001", EventKind.CROWD), ("379901001001001", EventKind.CROWD), True),
    ],
)
def test_key_separates_units_and_kinds(
    a: tuple[str, EventKind], b: tuple[str, EventKind], same: bool
) -> None:
    assert (dedup_key(*a, QINGHE) == dedup_key(*b, QINGHE)) is same


def test_cells_are_about_cell_m_square_on_the_ground() -> None:
    # Walk east and north in 1 m steps and measure where the cell id changes.
    cell = ground_cell(QINGHE, 100.0)
    steps_east = next(m for m in range(1, 400) if ground_cell(_offset(m, 0), 100.0) != cell)
    boundary = next(
        m
        for m in range(steps_east + 1, 400)
        if ground_cell(_offset(m, 0), 100.0) != ground_cell(_offset(steps_east, 0), 100.0)
    )
    assert boundary - steps_east == pytest.approx(100, abs=1)
    first_north = next(m for m in range(1, 400) if ground_cell(_offset(0, m), 100.0) != cell)
    second_north = next(
        m
        for m in range(first_north + 1, 400)
        if ground_cell(_offset(0, m), 100.0) != ground_cell(_offset(0, first_north), 100.0)
    )
    assert second_north - first_north == pytest.approx(100, abs=1)


@pytest.mark.parametrize("cell_m", [25.0, 100.0, 250.0])
def test_points_a_few_metres_apart_usually_share_a_cell(cell_m: float) -> None:
    # Detection jitter of a couple of metres must not split an incident except at a cell edge.
    points = [_offset(e, n) for e in range(-50, 51, 5) for n in range(-50, 51, 5)]
    shifted = [LocalProjection(p).to_lonlat((1.0, 1.0)) for p in points]
    assert all(haversine_m(p, q) < 1.5 for p, q in zip(points, shifted, strict=True))
    same = sum(ground_cell(p, cell_m) == ground_cell(q, cell_m) for p, q in zip(points, shifted, strict=True))
    assert same / len(points) > 1 - 2.5 / cell_m


def test_cell_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        ground_cell(QINGHE, 0.0)
