from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from models.records import GridKind
from router.crs import wgs84_to_gcj02
from router.imports import ImportRejected, parse_grids
from tests.conftest import SHARED

Doc = dict[str, Any]
SHARED_DEMO = SHARED / "data" / "demo"


def _props(i: int, **changes: Any) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        doc["features"][i]["properties"].update(changes)

    return mutate


def _drop_prop(i: int, key: str) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        del doc["features"][i]["properties"][key]

    return mutate


def _ring(i: int, edit: Callable[[list[list[float]]], list[list[float]]]) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        coordinates = doc["features"][i]["geometry"]["coordinates"]
        coordinates[0] = edit(coordinates[0])

    return mutate


def _geometry(i: int, geometry: Any) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        doc["features"][i]["geometry"] = geometry

    return mutate


def _copy_geometry(source: int, target: int) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        doc["features"][target]["geometry"] = copy.deepcopy(doc["features"][source]["geometry"])

    return mutate


def _swap(a: int, b: int) -> Callable[[list[list[float]]], list[list[float]]]:
    def edit(ring: list[list[float]]) -> list[list[float]]:
        ring[a], ring[b] = ring[b], ring[a]
        return ring

    return edit


def _set_position(j: int, position: list[Any]) -> Callable[[list[list[float]]], list[list[float]]]:
    def edit(ring: list[list[float]]) -> list[list[float]]:
        ring[j] = position
        return ring

    return edit


BROKEN: list[tuple[str, Callable[[Doc], None], str, str]] = [
    ("14-digit code", _props(3, code="37990100100100"), "features[3].properties.code", "15 digits, got 14"),
    ("letters in code", _props(3, code="3799010010010AB"), "features[3].properties.code", "15 digits"),
    (
        "township prefix",
        _props(2, township_code="379901002"),
        "features[2].properties.township_code",
        "grid code 379901001001003 starts with 379901001",
    ),
    (
        "duplicate code",
        _props(1, code="379901001001001"),
        "features[1].properties.code",
        "379901001001001 is also used by features[0]",
    ),
    (
        "unit named twice",
        _props(1, community_name="西关社区"),
        "features[1].properties.community_name",
        "community 379901001001 is named '西关社区' here but '东关社区' in features[0]",
    ),
    (
        "kind",
        _props(4, kind="special"),
        "features[4].properties.kind",
        "'basic' or 'exclusive', got 'special'",
    ),
    ("missing name", _drop_prop(5, "name"), "features[5].properties.name", "non-empty string, missing"),
    ("households", _props(5, households=-3), "features[5].properties.households", "whole number ≥ 0, got -3"),
    (
        "point geometry",
        _geometry(6, {"type": "Point", "coordinates": [118.63, 35.79]}),
        "features[6].geometry",
        "Polygon or MultiPolygon, got 'Point'",
    ),
    ("null geometry", _geometry(6, None), "features[6].geometry", "got null"),
    (
        "polygon with 3 positions",
        _ring(0, lambda ring: [ring[0], ring[1], ring[0]]),
        "features[0].geometry.coordinates[0]",
        "at least 4 positions (first repeated last), got 3",
    ),
    (
        "unclosed ring",
        _ring(0, lambda ring: ring[:-1]),
        "features[0].geometry.coordinates[0]",
        "ring is not closed",
    ),
    (
        "self-intersecting polygon",
        _ring(0, _swap(1, 2)),
        "features[0].geometry",
        "is not a valid Polygon: Self-intersection",
    ),
    (
        "latitude out of range",
        _ring(7, _set_position(1, [118.63, 135.79])),
        "features[7].geometry.coordinates[0][1]",
        "latitude 135.79 is outside -90..90",
    ),
    (
        "text coordinate",
        _ring(7, _set_position(2, ["118.63", "35.79"])),
        "features[7].geometry.coordinates[0][2]",
        "must be [lon, lat] numbers",
    ),
    (
        "overlapping grids",
        _copy_geometry(0, 1),
        "features[1].geometry",
        "grid 379901001001002 overlaps grid 379901001001001 (features[0]) by",
    ),
]


def _reparse(tmp_path: Path, doc: Doc) -> list[Any]:
    path = tmp_path / "broken.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return parse_grids(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("mutate", "where", "message"), [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN]
)
def test_broken_layer_is_refused_with_one_precise_problem(
    tmp_path: Path, grids_doc: Doc, mutate: Callable[[Doc], None], where: str, message: str
) -> None:
    mutate(grids_doc)
    with pytest.raises(ImportRejected) as rejected:
        _reparse(tmp_path, grids_doc)
    [problem] = rejected.value.problems
    assert problem.where == where
    assert message in problem.message


def test_overlap_reports_the_area_in_square_metres(tmp_path: Path, grids_doc: Doc) -> None:
    _copy_geometry(0, 1)(grids_doc)
    with pytest.raises(ImportRejected) as rejected:
        _reparse(tmp_path, grids_doc)
    # Grid 001 spans about 200 m × 200 m: the whole of it is the overlap.
    area = float(rejected.value.problems[0].message.split(" by ")[1].removesuffix(" m²"))
    assert 30_000 < area < 50_000


def test_every_problem_is_reported_at_once(tmp_path: Path, grids_doc: Doc) -> None:
    _props(3, code="37990100100100")(grids_doc)
    _props(4, kind="special")(grids_doc)
    _ring(0, _swap(1, 2))(grids_doc)
    with pytest.raises(ImportRejected) as rejected:
        _reparse(tmp_path, grids_doc)
    assert [p.where for p in rejected.value.problems] == [
        "features[0].geometry",
        "features[3].properties.code",
        "features[4].properties.kind",
    ]


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ('{"type": "FeatureCollection", "features": [', "line 1, column 44", "not JSON: Expecting value"),
        ('{"type": "Feature"}', "type", "must be a GeoJSON FeatureCollection, got 'Feature'"),
        ("[]", "type", "got 'list'"),
        ('{"type": "FeatureCollection", "features": []}', "features", "at least one grid"),
    ],
)
def test_document_level_problems(text: str, where: str, message: str) -> None:
    with pytest.raises(ImportRejected) as rejected:
        parse_grids(text)
    [problem] = rejected.value.problems
    assert problem.where == where
    assert message in problem.message


def test_demo_layer_parses_with_progress(grids_doc: Doc) -> None:
    seen: list[tuple[int, int]] = []
    grids = parse_grids(json.dumps(grids_doc), progress=lambda done, total: seen.append((done, total)))
    assert len(grids) == 11
    assert seen == [(i, 11) for i in range(1, 12)]
    exclusive = [g for g in grids if g.kind is GridKind.EXCLUSIVE]
    assert [g.code for g in exclusive] == ["379901001002004"]
    assert grids[0].chain()[1].code == "379901001"
    assert grids[0].households == 400


# 柳庄村 (features[10]) before the shared layer was corrected: a straight northern edge at the latitude of
# 河湾村's outer corners, cutting under the V of the two 河湾村 groups' southern boundary.
_STRAIGHT_NORTH_EDGE = [
    [118.6233554, 35.7737213],
    [118.6366446, 35.7737213],
    [118.6366446, 35.7818607],
    [118.6233554, 35.7818607],
    [118.6233554, 35.7737213],
]


def test_shared_demo_layer_imports_without_overlaps(demo_dir: Path) -> None:
    """The corrected shared layer imports as it is, with the same grids as the demo's own copy."""
    shared = parse_grids((SHARED_DEMO / "grids.geojson").read_text(encoding="utf-8"))
    ours = parse_grids((demo_dir / "grids.geojson").read_text(encoding="utf-8"))
    assert [g.code for g in shared] == [g.code for g in ours]
    assert len(shared) == 11


def test_shared_demo_layer_with_a_straight_edge_is_refused_for_its_overlaps() -> None:
    doc = json.loads((SHARED_DEMO / "grids.geojson").read_text(encoding="utf-8"))
    _ring(10, lambda _: copy.deepcopy(_STRAIGHT_NORTH_EDGE))(doc)
    with pytest.raises(ImportRejected) as rejected:
        parse_grids(json.dumps(doc))
    assert [(p.where, p.message.split(" by ")[0]) for p in rejected.value.problems] == [
        ("features[10].geometry", "grid 379901002002001 overlaps grid 379901002001001 (features[8])"),
        ("features[10].geometry", "grid 379901002002001 overlaps grid 379901002001002 (features[9])"),
    ]


def test_named_crs_is_converted_to_wgs84(grids_doc: Doc) -> None:
    wgs84 = parse_grids(json.dumps(grids_doc))
    for feature in grids_doc["features"]:
        ring = feature["geometry"]["coordinates"][0]
        feature["geometry"]["coordinates"][0] = [list(wgs84_to_gcj02(lon, lat)) for lon, lat in ring]
    converted = parse_grids(json.dumps(grids_doc), crs="GCJ-02")
    original = wgs84[0].geometry["coordinates"][0]
    back = converted[0].geometry["coordinates"][0]
    # GCJ-02 shifts this county by several hundred metres; the round trip must come back to ~1 cm.
    assert (
        max(abs(a - b) for p, q in zip(original, back, strict=True) for a, b in zip(p, q, strict=True)) < 1e-7
    )


def test_unknown_crs_is_refused_before_reading(grids_doc: Doc) -> None:
    with pytest.raises(ImportRejected) as rejected:
        parse_grids(json.dumps(grids_doc), crs="EPSG:99999999")
    [problem] = rejected.value.problems
    assert problem.where == "crs"
    assert "unknown CRS" in problem.message
