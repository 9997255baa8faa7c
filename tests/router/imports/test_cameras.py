from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from models.records import LineDirection, ZoneKind
from router.imports import ImportRejected, parse_cameras

Doc = dict[str, Any]


def _camera(**changes: Any) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        doc["cameras"][0].update(changes)

    return mutate


def _zone(index: int, **changes: Any) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        doc["cameras"][0]["zones"][index].update(changes)

    return mutate


def _drop(key: str) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        del doc["cameras"][0][key]

    return mutate


def _first_calibration_points(count: int) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        doc["cameras"][0]["calibration"] = doc["cameras"][0]["calibration"][:count]

    return mutate


def _calibration_pixel(index: int, px: list[float]) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        doc["cameras"][0]["calibration"][index]["px"] = px

    return mutate


def _duplicate_camera(doc: Doc) -> None:
    doc["cameras"].append(json.loads(json.dumps(doc["cameras"][0])))


def _rename_key(old: str, new: str) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        doc["cameras"][0][new] = doc["cameras"][0].pop(old)

    return mutate


# Four points on the road's centre line: a line, not a plane.
COLLINEAR = [
    {"px": [100 * i, 100 + 100 * i], "lonlat": [118.6297 + 0.0001 * i, 35.7912 - 0.0001 * i]}
    for i in range(4)
]

BROKEN: list[tuple[str, Callable[[Doc], None], str, str]] = [
    ("calibration with 3 points", _first_calibration_points(3), "cameras[0].calibration",
     "camera cam-dongguan-road: calibration needs at least 4 point pairs, got 3"),
    ("calibration with 4 collinear points", _camera(calibration=COLLINEAR), "cameras[0].calibration",
     "camera cam-dongguan-road: calibration pixels all lie on one line"),
    ("calibration outside the frame", _calibration_pixel(2, [800, 576]), "cameras[0].calibration",
     "points outside the 768×576 frame: 2 (800.0, 576.0)"),
    ("zone with 2 vertices", _zone(1, polygon_px=[[610, 40], [768, 40]]), "cameras[0].zones[1].polygon_px",
     "at least 3 items"),
    ("self-intersecting zone", _zone(1, polygon_px=[[610, 40], [768, 110], [768, 40], [600, 120]]),
     "cameras[0].zones[1].polygon_px",
     "zone 'fire-lane-by-building' is not a valid polygon: Self-intersection"),
    ("zone outside the frame", _zone(1, polygon_px=[[610, 40], [800, 40], [768, 110]]), "cameras[0].zones",
     "zone 'fire-lane-by-building' has vertices outside the 768×576 frame: 1 (800.0, 40.0)"),
    ("zone kind", _zone(0, kind="smoke"), "cameras[0].zones[0].kind",
     "does not match any of the expected tags: 'crowd', 'occupation', 'fire'"),
    ("zero persons", _zone(0, min_persons=0), "cameras[0].zones[0].min_persons", "greater than 0"),
    ("negative seconds", _zone(1, min_seconds=-5), "cameras[0].zones[1].min_seconds", "greater than 0"),
    ("persons on a fire zone", _zone(1, kind="fire", min_persons=3), "cameras[0].zones[1].min_persons",
     "unknown key"),
    ("zone names repeat", _zone(1, name="road"), "cameras[0].zones", "zone name 'road' is used twice"),
    ("missing frame size", _drop("frame_size"), "cameras[0].frame_size", "required key is missing"),
    ("missing zones", _drop("zones"), "cameras[0].zones", "required key is missing"),
    ("negative width", _camera(frame_size=[-768, 576]), "cameras[0].frame_size[0]", "greater than 0"),
    ("mount latitude", _camera(mount={"lonlat": [35.79, 118.63]}), "cameras[0].mount.lonlat[1]",
     "less than or equal to 90"),
    ("duplicate id", _duplicate_camera, "cameras[1].id", "cam-dongguan-road is also used by cameras[0]"),
]  # fmt: skip


def _reparse(demo: Path, doc: Doc) -> tuple[str, list[Any]]:
    path = demo / "cameras.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return parse_cameras(path.read_text(encoding="utf-8"))


@pytest.fixture
def cameras_doc(demo: Path) -> Doc:
    doc: Doc = json.loads((demo / "cameras.json").read_text(encoding="utf-8"))
    return doc


@pytest.mark.parametrize(("mutate", "where", "message"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_camera_is_refused_with_one_precise_problem(
    demo: Path, cameras_doc: Doc, mutate: Callable[[Doc], None], where: str, message: str
) -> None:
    mutate(cameras_doc)
    with pytest.raises(ImportRejected) as rejected:
        _reparse(demo, cameras_doc)
    [problem] = rejected.value.problems
    assert problem.where == where
    assert message in problem.message


def test_misspelt_key_names_the_intended_one(demo: Path, cameras_doc: Doc) -> None:
    _rename_key("zones", "zonez")(cameras_doc)
    with pytest.raises(ImportRejected) as rejected:
        _reparse(demo, cameras_doc)
    assert [str(p) for p in rejected.value.problems] == [
        "cameras[0].zones: required key is missing",
        "cameras[0].zonez: unknown key (did you mean 'zones'?)",
    ]


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        ({"timezone": "Asia/Beijing"}, "timezone", "unknown time zone 'Asia/Beijing'"),
        ({"cameras": {}}, "cameras", "must be a list"),
        ({"camera": []}, "camera", "unknown key"),
    ],
)
def test_document_level_problems(demo: Path, cameras_doc: Doc, change: Doc, where: str, message: str) -> None:
    cameras_doc.update(change)
    with pytest.raises(ImportRejected) as rejected:
        _reparse(demo, cameras_doc)
    [problem] = rejected.value.problems
    assert problem.where == where
    assert message in problem.message


def test_demo_cameras_parse_and_facts_are_ignored(demo: Path) -> None:
    timezone, cameras = parse_cameras((demo / "cameras.json").read_text(encoding="utf-8"))
    assert timezone == "Asia/Shanghai"
    [camera] = cameras
    assert camera.id == "cam-dongguan-road"
    assert camera.source.startswith("vtest.avi")
    assert camera.frame_size == (768, 576)
    assert len(camera.calibration) == 4
    assert [(z.name, z.kind) for z in camera.zones] == [
        ("road", ZoneKind.CROWD),
        ("fire-lane-by-building", ZoneKind.OCCUPATION),
        ("whole-view", ZoneKind.FIRE),
    ]
    road, lane, _ = camera.zones
    assert (road.min_persons, road.min_seconds, lane.min_seconds) == (5, 5.0, 30.0)


def test_a_line_zone_imports_without_polygon_checks(demo: Path, cameras_doc: Doc) -> None:
    entrance = {"name": "entrance", "kind": "line", "polygon_px": [[600, 130], [768, 120]]}
    cameras_doc["cameras"][0]["zones"].append({**entrance, "direction": "right_to_left"})
    _, [camera] = _reparse(demo, cameras_doc)
    line = camera.zones[-1]
    assert (line.kind, line.polygon_px, line.direction) == (
        ZoneKind.LINE,
        ((600.0, 130.0), (768.0, 120.0)),
        LineDirection.RIGHT_TO_LEFT,
    )
