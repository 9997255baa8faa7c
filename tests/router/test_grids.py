from __future__ import annotations

import itertools
import math
from dataclasses import replace

import pytest

from models.records import Grid, GridKind, GridMatch, UnitLevel
from router.crs import LocalProjection
from router.grids import GridIndex, UnknownUnitError, find_overlaps, grid_code_problems, unit_level
from tests.router.demo_data import demo_grids

DONGGUAN_1 = "379901001001001"
XIGUAN_1 = "379901001002001"
CHENGGUAN = "379901001"
HEWAN = "379901002"
COUNTY = "379901"
# 柳庄村's bounds before the correction: west, east, south and its straight northern edge.
W, E, S, N = 118.6233554, 118.6366446, 35.7737213, 35.7818607


@pytest.fixture(scope="module")
def index() -> GridIndex:
    return GridIndex(demo_grids())


def _offset(lonlat: tuple[float, float], east_m: float, north_m: float) -> tuple[float, float]:
    return LocalProjection(lonlat).to_lonlat((east_m, north_m))


# Corners of the demo layer: 东关一网格's south-west corner and 西关一网格's west edge.
DONGGUAN_SW = (118.6277851, 35.79)
XIGUAN_WEST = (118.6233554, 35.791)


@pytest.mark.parametrize(
    ("lonlat", "snap_m", "match", "grid", "unit", "distance_m"),
    [
        ((118.629, 35.7905), 50.0, GridMatch.INSIDE, DONGGUAN_1, DONGGUAN_1, 0.0),
        ((118.631, 35.7905), 50.0, GridMatch.INSIDE, "379901001001002", "379901001001002", 0.0),
        # On the shared border of 东关一 and 东关二 the lower code wins, every time.
        ((118.63, 35.7905), 50.0, GridMatch.INSIDE, DONGGUAN_1, DONGGUAN_1, 0.0),
        ((118.6266, 35.7925), 50.0, GridMatch.INSIDE, "379901001002004", "379901001002004", 0.0),
        (_offset(XIGUAN_WEST, -30, 0), 50.0, GridMatch.NEAREST, XIGUAN_1, XIGUAN_1, 30.0),
        (_offset((118.629, 35.79), 0, -45), 50.0, GridMatch.NEAREST, DONGGUAN_1, DONGGUAN_1, 45.0),
        (_offset((118.629, 35.79), 0, -45), 40.0, GridMatch.HIGHER_UNIT, None, COUNTY, 45.0),
        # In the gap between the two townships: neither's grids nor hull holds it.
        ((118.628, 35.788), 50.0, GridMatch.HIGHER_UNIT, None, COUNTY, 172.5),
        # Under 河湾镇's concave top edge: in its grids' convex hull, a few metres outside its grids.
        ((118.6305537, 35.78643), 1.0, GridMatch.HIGHER_UNIT, None, HEWAN, 5.2),
    ],
)
def test_locate(
    index: GridIndex,
    lonlat: tuple[float, float],
    snap_m: float,
    match: GridMatch,
    grid: str | None,
    unit: str,
    distance_m: float,
) -> None:
    location = index.locate(lonlat, snap_m)
    assert (location.grid_match, location.grid_code, location.unit_code) == (match, grid, unit)
    assert location.distance_m == pytest.approx(distance_m, rel=0.01, abs=0.5)
    assert location.chain[-1].code == unit
    assert location.chain[0].code == COUNTY


def test_far_outside_the_county_falls_to_the_county_of_the_nearest_grid(index: GridIndex) -> None:
    location = index.locate((116.39, 39.91))
    assert (location.grid_match, location.unit_code) == (GridMatch.HIGHER_UNIT, COUNTY)
    assert location.distance_m > 400_000


def test_snapping_measures_metres_not_degrees(index: GridIndex) -> None:
    # 40 m west is 0.00044° of longitude but 40 m north is only 0.00036° of latitude: both must snap alike.
    west = index.locate(_offset(XIGUAN_WEST, -40, 0), 45.0)
    south = index.locate(_offset((118.624, 35.79), 0, -40), 45.0)
    assert west.grid_match is south.grid_match is GridMatch.NEAREST
    assert west.distance_m == pytest.approx(south.distance_m, abs=0.01)


@pytest.mark.parametrize(
    ("code", "names"),
    [
        (COUNTY, ["青河县"]),
        (CHENGGUAN, ["青河县", "城关街道"]),
        ("379901001002", ["青河县", "城关街道", "西关社区"]),
        ("379901001002004", ["青河县", "城关街道", "西关社区", "西关农贸市场专属网格"]),
        ("379901002002001", ["青河县", "河湾镇", "柳庄村", "柳庄村"]),
    ],
)
def test_chain_for_every_level(index: GridIndex, code: str, names: list[str]) -> None:
    chain = index.chain(code)
    assert [unit.name for unit in chain] == names
    assert [unit.level for unit in chain] == list(UnitLevel)[: len(names)]
    assert all(child.parent_code == parent.code for parent, child in itertools.pairwise(chain))


def test_units_lists_the_whole_hierarchy_parents_first(index: GridIndex) -> None:
    units = index.units()
    levels = [unit.level for unit in units]
    assert (levels.count(UnitLevel.COUNTY), levels.count(UnitLevel.TOWNSHIP)) == (1, 2)
    assert (levels.count(UnitLevel.COMMUNITY), levels.count(UnitLevel.GRID)) == (4, 11)
    seen: set[str] = set()
    for unit in units:
        assert unit.parent_code is None or unit.parent_code in seen
        seen.add(unit.code)


def test_get_and_unknown_codes(index: GridIndex) -> None:
    assert index.get("379901001002004").kind is GridKind.EXCLUSIVE
    with pytest.raises(UnknownUnitError, match="379901009"):
        index.chain("379901009")
    with pytest.raises(UnknownUnitError, match="379901001001009"):
        index.get("379901001001009")


def test_demo_layer_has_no_overlaps() -> None:
    assert find_overlaps(demo_grids()) == []


def test_overlaps_are_found_in_square_metres() -> None:
    # 柳庄村 as it was before the shared layer was corrected: a straight northern edge at the latitude of
    # 河湾村's outer corners cuts under the V-shaped southern edges of 河湾村's two groups.
    grids = list(demo_grids())
    liuzhuang = grids[10]
    ring = [[W, S], [E, S], [E, N], [W, N], [W, S]]
    grids[10] = replace(liuzhuang, geometry={"type": "Polygon", "coordinates": [ring]})
    overlaps = find_overlaps(grids)
    assert [(a, b) for a, b, _ in overlaps] == [
        ("379901002001001", "379901002002001"),
        ("379901002001002", "379901002002001"),
    ]
    # Each overlap is a triangle 0.0066446° of longitude wide and 0.0004522° of latitude deep at 35.78°N.
    wide_m = 0.0066446 * 111_320 * math.cos(math.radians(35.78))
    deep_m = 0.0004522 * 110_940
    areas = [area for _, _, area in overlaps]
    assert areas == pytest.approx([wide_m * deep_m / 2] * 2, rel=0.02)


def test_touching_grids_do_not_overlap() -> None:
    assert find_overlaps(demo_grids()[:8]) == []


def _square(code: str, west: float, size_deg: float) -> Grid:
    ring = [[west, 35.0], [west + size_deg, 35.0], [west + size_deg, 35.001], [west, 35.001], [west, 35.0]]
    return replace(demo_grids()[0], code=code, geometry={"type": "Polygon", "coordinates": [ring]})


@pytest.mark.parametrize(
    ("overlap_deg", "expected"),
    [(0.0, []), (0.00000001, []), (0.0001, [("379901001001001", "379901001001002")])],
)
def test_overlap_threshold(overlap_deg: float, expected: list[tuple[str, str]]) -> None:
    # 1e-8° × 0.001° at 35°N is about 0.1 m²: a digitising sliver; 1e-4° × 0.001° is about 1000 m².
    grids = [
        _square("379901001001001", 118.0, 0.001),
        _square("379901001001002", 118.001 - overlap_deg, 0.001),
    ]
    assert [(a, b) for a, b, _ in find_overlaps(grids)] == expected


@pytest.mark.parametrize(
    ("code", "ancestors", "problem"),
    [
        ("379901001001001", {}, None),
        ("379901001001001", {"county_code": "379901", "township_code": "379901001"}, None),
        ("37990100100100", {}, "must be exactly 15 digits"),
        ("37990100100100A", {}, "must be exactly 15 digits"),
        ("３７９９０１００１００１００１", {}, "must be exactly 15 digits"),
        ("379901000001001", {}, "the township part (digits 7–9) must not be 000"),
        ("379901001001000", {}, "the grid part (digits 13–15) must not be 000"),
        ("379901001001001", {"county_code": "379902"}, "starts with 379901, but county_code is '379902'"),
        ("379901001001001", {"community_code": "379901001002"}, "but community_code is '379901001002'"),
    ],
)
def test_grid_code_problems(code: str, ancestors: dict[str, str], problem: str | None) -> None:
    found = grid_code_problems(code, **ancestors)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


@pytest.mark.parametrize(
    ("code", "level"),
    [("379901", UnitLevel.COUNTY), ("379901001", UnitLevel.TOWNSHIP), ("379901001001001", UnitLevel.GRID)],
)
def test_unit_level(code: str, level: UnitLevel) -> None:
    assert unit_level(code) is level


@pytest.mark.parametrize("code", ["37990", "3799010011", "", "37990a"])
def test_unit_level_rejects_other_lengths(code: str) -> None:
    with pytest.raises(ValueError, match="6, 9, 12 or 15 digits"):
        unit_level(code)


@pytest.mark.parametrize(
    ("grids", "message"),
    [
        ((), "at least one grid"),
        ((demo_grids()[0], demo_grids()[0]), "appears twice"),
        ((replace(demo_grids()[0], township_name="别的街道"), demo_grids()[1]), "named both"),
        ((replace(demo_grids()[0], county_code="379902"),), "county_code is '379902'"),
        (
            (replace(demo_grids()[0], geometry={"type": "Point", "coordinates": [118.63, 35.79]}),),
            "must be a Polygon or MultiPolygon",
        ),
        (
            (
                replace(
                    demo_grids()[0],
                    geometry={"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
                ),
            ),
            "invalid geometry (Self-intersection",
        ),
    ],
)
def test_index_rejects_inconsistent_layers(grids: tuple[Grid, ...], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        GridIndex(grids)
    assert message in str(caught.value)


def test_locating_many_points_at_once_answers_as_one_at_a_time(index: GridIndex) -> None:
    # Points over and around the demo county: inside grids, on shared edges and vertices, beyond the snap
    # distance; the batch's one tree query must pick the same grid (lowest code on a border) each time.
    bounds = [_bounds(grid) for grid in index.grids()]
    west, south = min(b[0] for b in bounds), min(b[1] for b in bounds)
    east, north = max(b[2] for b in bounds), max(b[3] for b in bounds)
    pad = 0.3 * max(east - west, north - south)
    steps = 23
    points = [
        (
            west - pad + (east - west + 2 * pad) * i / steps,
            south - pad + (north - south + 2 * pad) * j / steps,
        )
        for i, j in itertools.product(range(steps + 1), repeat=2)
    ]
    vertices = [tuple(v) for grid in index.grids() for v in grid.geometry["coordinates"][0]]
    points += [(float(x), float(y)) for x, y in vertices]
    many = index.locate_many(points)
    assert many == [index.locate(p) for p in points]
    assert {location.grid_match for location in many} == set(GridMatch)
    assert index.locate_many([]) == []


def _bounds(grid: Grid) -> tuple[float, float, float, float]:
    ring = grid.geometry["coordinates"][0]
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    return (min(xs), min(ys), max(xs), max(ys))
