"""Grid layer import: GeoJSON text in, Grid records out, or every reason the file is refused.

Coordinates are converted to WGS84 with the CRS the operator names; nothing is guessed from the numbers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Any

import shapely
from shapely.geometry import shape

from models.records import Grid, GridKind
from router.crs import UnknownCRSError, normalize_crs, to_wgs84
from router.grids import find_overlaps, grid_code_problems
from router.imports.problems import ImportRejected, Problem

Progress = Callable[[int, int], None]

#: A reprojected layer can have every vertex off; past this many per ring the rest are only counted.
MAX_POSITION_PROBLEMS = 3
MIN_OVERLAP_M2 = 1.0

_CHAIN = (("county", 6), ("township", 9), ("community", 12))
_GEOMETRY_TYPES = ("Polygon", "MultiPolygon")


def parse_grids(text: str, *, crs: str = "EPSG:4326", progress: Progress | None = None) -> list[Grid]:
    """Every grid of a FeatureCollection, in file order; raises ImportRejected listing all problems."""
    try:
        crs = normalize_crs(crs)
    except UnknownCRSError as error:
        raise ImportRejected([Problem("crs", str(error))]) from None
    features = _features(text)
    problems: list[Problem] = []
    grids: dict[int, Grid] = {}
    seen = _Seen()
    for index, feature in enumerate(features):
        where = f"features[{index}]"
        found = list(_feature_problems(feature, where))
        if not found:
            found += seen.problems(feature["properties"], index)
        geometry, geometry_problems = _geometry(feature, where, crs)
        found += geometry_problems
        problems += found
        if not found and geometry is not None:
            grids[index] = _grid(feature["properties"], geometry)
        if progress is not None:
            progress(index + 1, len(features))
    problems += _overlap_problems(grids)
    if problems:
        raise ImportRejected(problems)
    return list(grids.values())


class _Seen:
    """Codes and unit names met so far: a code names one grid, and a unit has one name across features."""

    def __init__(self) -> None:
        self._grids: dict[str, int] = {}
        self._units: dict[str, tuple[str, int]] = {}

    def problems(self, properties: dict[str, Any], index: int) -> list[Problem]:
        where = f"features[{index}].properties"
        code: str = properties["code"]
        if code in self._grids:
            return [Problem(f"{where}.code", f"{code} is also used by features[{self._grids[code]}]")]
        self._grids[code] = index
        found = []
        for unit, _ in _CHAIN:
            unit_code, name = properties[f"{unit}_code"], properties[f"{unit}_name"].strip()
            first = self._units.setdefault(unit_code, (name, index))
            if first[0] != name:
                found.append(
                    Problem(
                        f"{where}.{unit}_name",
                        f"{unit} {unit_code} is named {name!r} here but {first[0]!r} in features[{first[1]}]",
                    )
                )
        return found


def _features(text: str) -> list[Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ImportRejected(
            [Problem(f"line {error.lineno}, column {error.colno}", f"not JSON: {error.msg}")]
        ) from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        kind = document.get("type") if isinstance(document, dict) else type(document).__name__
        raise ImportRejected([Problem("type", f"must be a GeoJSON FeatureCollection, got {kind!r}")])
    features = document.get("features")
    if not isinstance(features, list):
        raise ImportRejected([Problem("features", "must be a list of features")])
    if not features:
        raise ImportRejected([Problem("features", "is empty: a grid layer needs at least one grid")])
    return features


def _feature_problems(feature: Any, where: str) -> Iterator[Problem]:
    if not isinstance(feature, dict):
        yield Problem(where, f"must be a GeoJSON Feature object, got {type(feature).__name__}")
        return
    if feature.get("type") != "Feature":
        yield Problem(f"{where}.type", f"must be 'Feature', got {feature.get('type')!r}")
    properties = feature.get("properties")
    if not isinstance(properties, dict):
        yield Problem(f"{where}.properties", "must be an object with code, name, kind and the unit chain")
        return
    yield from _property_problems(properties, f"{where}.properties")


def _property_problems(properties: dict[str, Any], where: str) -> Iterator[Problem]:
    required = ["code", "name", "kind"] + [
        f"{unit}_{part}" for unit, _ in _CHAIN for part in ("code", "name")
    ]
    for key in required:
        value = properties.get(key)
        if not isinstance(value, str) or not value.strip():
            got = "missing" if key not in properties else f"got {value!r}"
            yield Problem(f"{where}.{key}", f"must be a non-empty string, {got}")
    code = properties.get("code")
    if isinstance(code, str) and code:
        problem = grid_code_problems(code)
        if problem is not None:
            yield Problem(f"{where}.code", problem + (f", got {len(code)}" if len(code) != 15 else ""))
        else:
            for unit, length in _CHAIN:
                stated = properties.get(f"{unit}_code")
                if isinstance(stated, str) and stated and stated != code[:length]:
                    yield Problem(
                        f"{where}.{unit}_code",
                        f"is {stated!r} but grid code {code} starts with {code[:length]}",
                    )
    kind = properties.get("kind")
    if isinstance(kind, str) and kind and kind not in {k.value for k in GridKind}:
        yield Problem(f"{where}.kind", f"must be 'basic' or 'exclusive', got {kind!r}")
    exclusive_type = properties.get("exclusive_type")
    if exclusive_type is not None and not isinstance(exclusive_type, str):
        yield Problem(f"{where}.exclusive_type", f"must be a string, got {exclusive_type!r}")
    households = properties.get("households")
    # bool is an int in Python, but `true` households is a data error, not 1.
    if households is not None and (
        not isinstance(households, int) or isinstance(households, bool) or households < 0
    ):
        yield Problem(f"{where}.households", f"must be a whole number ≥ 0, got {households!r}")


def _geometry(feature: Any, where: str, crs: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The geometry converted to WGS84, or None with the reasons it cannot be used."""
    if not isinstance(feature, dict):
        return None, []
    geometry = feature.get("geometry")
    where = f"{where}.geometry"
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind not in _GEOMETRY_TYPES:
        got = "null" if geometry is None else repr(kind if kind is not None else geometry)
        return None, [Problem(where, f"must be a Polygon or MultiPolygon, got {got}")]
    assert isinstance(geometry, dict)
    coordinates = geometry.get("coordinates")
    polygons = [coordinates] if kind == "Polygon" else coordinates
    paths = [f"{where}.coordinates"] if kind == "Polygon" else None
    if not isinstance(polygons, list) or not polygons:
        return None, [Problem(f"{where}.coordinates", f"must be a non-empty list of {kind} coordinates")]
    paths = paths or [f"{where}.coordinates[{i}]" for i in range(len(polygons))]
    problems: list[Problem] = []
    converted = [
        _polygon(polygon, path, crs, problems) for polygon, path in zip(polygons, paths, strict=True)
    ]
    if problems:
        return None, problems
    wgs84: dict[str, Any] = {"type": kind, "coordinates": converted[0] if kind == "Polygon" else converted}
    geom = shape(wgs84)
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        return None, [Problem(where, f"is not a valid {kind}: {reason}")]
    return wgs84, []


def _polygon(polygon: Any, where: str, crs: str, problems: list[Problem]) -> list[list[list[float]]]:
    if not isinstance(polygon, list) or not polygon:
        problems.append(Problem(where, "must be a non-empty list of rings"))
        return []
    return [_ring(ring, f"{where}[{i}]", crs, problems) for i, ring in enumerate(polygon)]


def _ring(ring: Any, where: str, crs: str, problems: list[Problem]) -> list[list[float]]:
    if not isinstance(ring, list):
        problems.append(Problem(where, "must be a list of [lon, lat] positions"))
        return []
    out: list[list[float]] = []
    bad: list[Problem] = []
    for i, position in enumerate(ring):
        lonlat, reason = _position(position, crs)
        if reason is not None:
            bad.append(Problem(f"{where}[{i}]", reason))
        elif lonlat is not None:
            out.append(lonlat)
    problems += bad[:MAX_POSITION_PROBLEMS]
    if len(bad) > MAX_POSITION_PROBLEMS:
        problems.append(Problem(where, f"{len(bad) - MAX_POSITION_PROBLEMS} more bad positions not listed"))
    if len(ring) < 4:
        problems.append(
            Problem(where, f"a ring needs at least 4 positions (first repeated last), got {len(ring)}")
        )
    elif not bad and ring[0] != ring[-1]:
        problems.append(Problem(where, f"ring is not closed: first {ring[0]} differs from last {ring[-1]}"))
    return out


def _position(position: Any, crs: str) -> tuple[list[float] | None, str | None]:
    numeric = isinstance(position, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in position
    )
    # A third value is an altitude (RFC 7946 §3.1.1); grids lie on the ground, so it is dropped.
    if not numeric or len(position) not in (2, 3):
        return None, f"must be [lon, lat] numbers, got {position!r}"
    x, y = float(position[0]), float(position[1])
    if not (math.isfinite(x) and math.isfinite(y)):
        return None, f"must be finite numbers, got {position!r}"
    try:
        lon, lat = to_wgs84(x, y, crs)
    except ValueError as error:
        return None, str(error)
    suffix = "" if crs == "EPSG:4326" else f" after converting ({x:g}, {y:g}) from {crs}"
    if not -180.0 <= lon <= 180.0:
        return None, f"longitude {lon:g} is outside -180..180{suffix} (lon and lat swapped?)"
    if not -90.0 <= lat <= 90.0:
        return None, f"latitude {lat:g} is outside -90..90{suffix} (lon and lat swapped?)"
    return [lon, lat], None


def _grid(properties: dict[str, Any], geometry: dict[str, Any]) -> Grid:
    return Grid(
        code=properties["code"],
        name=properties["name"].strip(),
        kind=GridKind(properties["kind"]),
        county_code=properties["county_code"],
        county_name=properties["county_name"].strip(),
        township_code=properties["township_code"],
        township_name=properties["township_name"].strip(),
        community_code=properties["community_code"],
        community_name=properties["community_name"].strip(),
        geometry=geometry,
        exclusive_type=properties.get("exclusive_type"),
        households=properties.get("households"),
    )


def _overlap_problems(grids: dict[int, Grid]) -> list[Problem]:
    if len(grids) < 2:
        return []
    index_of = {grid.code: index for index, grid in grids.items()}
    return [
        Problem(
            f"features[{index_of[b]}].geometry",
            f"grid {b} overlaps grid {a} (features[{index_of[a]}]) by {area:.1f} m²",
        )
        for a, b, area in find_overlaps(list(grids.values()), min_area_m2=MIN_OVERLAP_M2)
    ]
