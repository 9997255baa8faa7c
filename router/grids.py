"""Which grid (or, failing that, which higher unit) owns a ground point.

Polygons stay in lon/lat for the STRtree; every distance and area is measured in a LocalProjection
centred on the point in question, so "50 m" means 50 metres at any latitude.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from models.records import Grid, GridKind, GridMatch, LonLat, Unit, UnitLevel
from router.crs import LocalProjection

_DIGITS = re.compile(r"[0-9]+")
# A slack on the degree box searched for snapping candidates, so that the box surely holds the circle.
_SEARCH_SLACK = 1.5


class UnknownUnitError(LookupError):
    """A unit code that no loaded grid belongs to."""


@dataclass(frozen=True, slots=True)
class GridLocation:
    grid_match: GridMatch
    grid_code: str | None
    #: The owning unit: the grid, or the township/county it fell back to.
    unit_code: str
    #: The owning unit and its ancestors, county first.
    chain: tuple[Unit, ...]
    #: Metres from the point to the chosen grid (0 inside); for HIGHER_UNIT, to the nearest grid.
    distance_m: float


#: Every routed event asks a unit's level: iterating the enum each time was a tenth of routing.
_LEVEL_LENGTHS = frozenset(level.value for level in UnitLevel)


def unit_level(code: str) -> UnitLevel:
    """The level a unit code names, by its length; raises ValueError for anything but 6/9/12/15 digits."""
    if _DIGITS.fullmatch(code) is None or len(code) not in _LEVEL_LENGTHS:
        raise ValueError(f"unit code {code!r} must be 6, 9, 12 or 15 digits")
    return UnitLevel(len(code))


def grid_code_problems(
    code: str,
    *,
    county_code: str | None = None,
    township_code: str | None = None,
    community_code: str | None = None,
) -> str | None:
    """What is wrong with a grid code and its stated ancestors, or None when it is sound."""
    if _DIGITS.fullmatch(code) is None or len(code) != UnitLevel.GRID:
        return f"grid code {code!r} must be exactly 15 digits"
    for label, start, end in (("township", 6, 9), ("community", 9, 12), ("grid", 12, 15)):
        if code[start:end] == "000":
            return f"grid code {code}: the {label} part (digits {start + 1}–{end}) must not be 000"
    ancestors = (
        ("county_code", county_code, UnitLevel.COUNTY),
        ("township_code", township_code, UnitLevel.TOWNSHIP),
        ("community_code", community_code, UnitLevel.COMMUNITY),
    )
    for label, stated, level in ancestors:
        if stated is not None and stated != code[:level]:
            return f"grid code {code} starts with {code[:level]}, but {label} is {stated!r}"
    return None


def find_overlaps(grids: Sequence[Grid], min_area_m2: float = 1.0) -> list[tuple[str, str, float]]:
    """Pairs of grids (codes in ascending order) whose overlap exceeds min_area_m2, with its area in m².

    Geometries must already be valid (shapely.is_valid); GEOS cannot intersect self-crossing rings.
    """
    geometries = [shape(grid.geometry) for grid in grids]
    tree = shapely.STRtree(geometries)
    left, right = tree.query(geometries, predicate="intersects")
    overlaps: list[tuple[str, str, float]] = []
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        common = geometries[i].intersection(geometries[j])
        if common.is_empty:
            continue
        area = _metric(common, LocalProjection(_lonlat(common.centroid))).area
        if area > min_area_m2:
            a, b = sorted((grids[i].code, grids[j].code))
            overlaps.append((a, b, float(area)))
    return sorted(overlaps)


class GridIndex:
    """An immutable spatial index over one layer of grids and the hierarchy they imply."""

    def __init__(self, grids: Sequence[Grid]) -> None:
        if not grids:
            raise ValueError("a grid index needs at least one grid")
        self._grids: dict[str, Grid] = {}
        for grid in grids:
            if grid.code in self._grids:
                raise ValueError(f"grid {grid.code} appears twice")
            self._grids[grid.code] = grid
        self._codes = [grid.code for grid in grids]
        self._shapes = [_checked_shape(grid) for grid in grids]
        self._tree = shapely.STRtree(self._shapes)
        self._chains = _unit_chains(grids)
        self._townships = _areas_by(grids, self._shapes, UnitLevel.TOWNSHIP)
        self._counties = _areas_by(grids, self._shapes, UnitLevel.COUNTY)

    def __len__(self) -> int:
        return len(self._grids)

    def grids(self) -> tuple[Grid, ...]:
        return tuple(self._grids.values())

    def get(self, code: str) -> Grid:
        try:
            return self._grids[code]
        except KeyError:
            raise UnknownUnitError(f"no grid {code!r}") from None

    def chain(self, unit_code: str) -> tuple[Unit, ...]:
        """The unit and its ancestors, county first, for a grid/community/township/county code."""
        try:
            return self._chains[unit_code]
        except KeyError:
            raise UnknownUnitError(f"no unit {unit_code!r} in the loaded grids") from None

    def units(self) -> tuple[Unit, ...]:
        """Every unit of the hierarchy, ordered by code (so parents precede their children)."""
        return tuple(self._chains[code][-1] for code in sorted(self._chains))

    def grid_kind(self, code: str | None) -> GridKind | None:
        return None if code is None else self.get(code).kind

    def locate(self, lonlat: LonLat, snap_m: float = 50.0) -> GridLocation:
        point = Point(lonlat)
        inside = sorted(self._codes[i] for i in self._tree.query(point, predicate="intersects").tolist())
        if inside:
            # On a shared border, or in a sliver of overlap, the lowest code wins so the answer is stable.
            return self._at_grid(GridMatch.INSIDE, inside[0], 0.0)
        return self._outside(point, lonlat, snap_m)

    def _outside(self, point: Point, lonlat: LonLat, snap_m: float) -> GridLocation:
        """A point in no grid: the nearest within ``snap_m``, else its township or county."""
        projection = LocalProjection(lonlat)
        nearest = self._nearest_within(point, projection, snap_m)
        if nearest is not None:
            return self._at_grid(GridMatch.NEAREST, *nearest)
        distance_m = self._distance_to_nearest(point, projection)
        unit_code = self._containing_township(point, projection) or self._owning_county(point, projection)
        return GridLocation(GridMatch.HIGHER_UNIT, None, unit_code, self.chain(unit_code), distance_m)

    def locate_many(self, points: Sequence[LonLat], snap_m: float = 50.0) -> list[GridLocation]:
        """``locate`` for many points: one tree query for all (a busy centre routes events by the
        hundred, and a query per point spent most of its time in the query's own set-up)."""
        if not points:
            return []
        geometries = shapely.points(points)
        found, hits = self._tree.query(geometries, predicate="intersects")
        inside: dict[int, str] = {}
        for index, hit in zip(found.tolist(), hits.tolist(), strict=True):
            code = self._codes[hit]
            if index not in inside or code < inside[index]:
                inside[index] = code  # on a shared border the lowest code wins, as in locate
        return [
            self._at_grid(GridMatch.INSIDE, inside[i], 0.0)
            if i in inside
            else self._outside(geometries[i], point, snap_m)
            for i, point in enumerate(points)
        ]

    def _at_grid(self, match: GridMatch, code: str, distance_m: float) -> GridLocation:
        return GridLocation(match, code, code, self.chain(code), distance_m)

    def _nearest_within(
        self, point: Point, projection: LocalProjection, snap_m: float
    ) -> tuple[str, float] | None:
        if snap_m <= 0:
            return None
        east, north = projection.metres_per_degree()
        reach = snap_m * _SEARCH_SLACK
        box = shapely.box(
            point.x - reach / east, point.y - reach / north, point.x + reach / east, point.y + reach / north
        )
        local_point = Point(0.0, 0.0)
        candidates = [
            (local_point.distance(_metric(self._shapes[i], projection)), self._codes[i])
            for i in self._tree.query(box).tolist()
        ]
        within = sorted((distance, code) for distance, code in candidates if distance <= snap_m)
        if not within:
            return None
        distance, code = within[0]
        return (code, float(distance))

    def _distance_to_nearest(self, point: Point, projection: LocalProjection) -> float:
        index = int(self._tree.nearest(point))
        return float(Point(0.0, 0.0).distance(_metric(self._shapes[index], projection)))

    def _containing_township(self, point: Point, projection: LocalProjection) -> str | None:
        return _containing(self._townships, point, projection)

    def _owning_county(self, point: Point, projection: LocalProjection) -> str:
        found = _containing(self._counties, point, projection)
        if found is not None:
            return found
        # Outside every county's hull: the county of the nearest grid still owns the camera's view.
        return self._codes[int(self._tree.nearest(point))][: UnitLevel.COUNTY]


@dataclass(frozen=True, slots=True)
class _Area:
    code: str
    union: BaseGeometry
    hull: BaseGeometry


def _containing(areas: Sequence[_Area], point: Point, projection: LocalProjection) -> str | None:
    """The area whose grids' convex hull holds the point (gaps between its grids count as inside)."""
    in_hull = [area for area in areas if area.hull.intersects(point)]
    if not in_hull:
        return None
    local_point = Point(0.0, 0.0)
    # Hulls of neighbouring townships can overlap; the one whose grids come closest owns the point.
    return min(in_hull, key=lambda a: (local_point.distance(_metric(a.union, projection)), a.code)).code


def _areas_by(grids: Sequence[Grid], shapes: Sequence[BaseGeometry], level: UnitLevel) -> list[_Area]:
    members: dict[str, list[BaseGeometry]] = {}
    for grid, geometry in zip(grids, shapes, strict=True):
        members.setdefault(grid.code[:level], []).append(geometry)
    areas = []
    for code in sorted(members):
        union = shapely.union_all(members[code])
        hull = union.convex_hull
        shapely.prepare(hull)
        areas.append(_Area(code, union, hull))
    return areas


def _unit_chains(grids: Iterable[Grid]) -> dict[str, tuple[Unit, ...]]:
    chains: dict[str, tuple[Unit, ...]] = {}
    for grid in grids:
        problem = grid_code_problems(
            grid.code,
            county_code=grid.county_code,
            township_code=grid.township_code,
            community_code=grid.community_code,
        )
        if problem is not None:
            raise ValueError(problem)
        full = tuple(grid.chain())
        for depth, unit in enumerate(full, start=1):
            known = chains.get(unit.code)
            if known is not None and known[-1].name != unit.name:
                raise ValueError(f"unit {unit.code} is named both {known[-1].name!r} and {unit.name!r}")
            chains.setdefault(unit.code, full[:depth])
    return chains


def _checked_shape(grid: Grid) -> BaseGeometry:
    geometry = shape(grid.geometry)
    if geometry.geom_type not in {"Polygon", "MultiPolygon"}:
        raise ValueError(
            f"grid {grid.code}: geometry must be a Polygon or MultiPolygon, not {geometry.geom_type}"
        )
    if geometry.is_empty or not geometry.is_valid:
        reason = shapely.is_valid_reason(geometry)
        raise ValueError(f"grid {grid.code}: invalid geometry ({reason})")
    return geometry


def _metric(geometry: BaseGeometry, projection: LocalProjection) -> BaseGeometry:
    """The geometry in metres east/north of the projection's origin."""
    east, north = projection.metres_per_degree()
    origin = np.array(projection.origin)
    scale = np.array([east, north])

    def to_metres(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        metres: npt.NDArray[np.float64] = (coords - origin) * scale
        return metres

    result: BaseGeometry = shapely.transform(geometry, to_metres)
    return result


def _lonlat(point: BaseGeometry) -> LonLat:
    assert isinstance(point, Point)
    return (float(point.x), float(point.y))
