"""The tiled pass for dense crowds: windows cover the picture, merged boxes count each person once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import cv2
import numpy as np
import pytest

from detect.backends.ultralytics import UltralyticsDetector
from detect.labels import PERSON_LIKE, blind_spots
from detect.tiling import TiledDetector, cut_by_tile, merge, tiles
from models.records import Detection
from tests.conftest import SHARED


@pytest.mark.parametrize(("width", "height", "grid"), [(640, 360, 2), (768, 576, 2), (1920, 1080, 3)])
def test_tiles_cover_the_picture_and_overlap(width: int, height: int, grid: int) -> None:
    windows = tiles(width, height, grid, 0.2)
    assert len(windows) == grid * grid
    assert min(w[0] for w in windows) == 0 and min(w[1] for w in windows) == 0
    assert max(w[2] for w in windows) >= width and max(w[3] for w in windows) >= height
    first, second = windows[0], windows[1]
    assert second[0] < first[2]  # neighbours overlap: a person on the seam is whole in one of them


def person(x0: float, y0: float, x1: float, y1: float, conf: float = 0.8) -> Detection:
    return Detection((x0, y0, x1, y1), conf, "person", 0)


def test_merge_keeps_one_box_per_person() -> None:
    whole = person(100, 100, 140, 200, 0.9)
    again = person(102, 101, 141, 203, 0.7)  # the same person seen by a tile
    cut = person(100, 100, 125, 200, 0.6)  # cut at a tile's edge: mostly inside the whole box
    neighbour = person(150, 100, 190, 200, 0.5)  # someone else, side by side
    assert merge([again, cut, whole, neighbour], iou_same=0.5) == [whole, neighbour]


def test_wrong_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="grid"):
        TiledDetector(None, grid=1)  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.computes
def test_a_packed_street_is_counted_within_a_quarter_with_tiles(yolov8n: UltralyticsDetector) -> None:
    """The eval set's dense crowd (about 60 people): one pass at 640 finds about 44, tiles 60 ± 15."""
    image = cv2.imread(str(SHARED / "data" / "eval" / "crowd" / "barisha__dense_crowd.jpg"))
    assert image is not None
    plain = sum(d.label in PERSON_LIKE for d in yolov8n.detect([image])[0])
    detector = TiledDetector(yolov8n)
    tiled_count = sum(d.label in PERSON_LIKE for d in detector.detect([image])[0])
    assert detector.tiled_frames == 1
    assert plain < 0.75 * 60 <= tiled_count <= 1.25 * 60, (plain, tiled_count)


@pytest.mark.slow
@pytest.mark.computes
def test_a_sparse_street_costs_no_tiled_pass(yolov8n: UltralyticsDetector) -> None:
    image = cv2.imread(str(SHARED / "data" / "eval" / "crowd" / "coco__000000005001.jpg"))  # about 17 people
    detector = TiledDetector(yolov8n)
    assert detector.detect([image])[0] == yolov8n.detect([image])[0]
    assert detector.tiled_frames == 0


class _Coco:
    """A model that sees persons, vehicles and stalls, as the COCO exports do."""

    name = "coco"
    labels: Mapping[int, str] = MappingProxyType({0: "person", 2: "car", 56: "chair"})
    meanings: Mapping[int, str] = MappingProxyType({0: "person", 2: "vehicle", 56: "stall"})

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        return [[] for _ in images]


def test_the_wrapper_reports_what_its_model_sees() -> None:
    """serve wraps the person detector; /api/status's blind spots must be the model's, not the wrapper's."""
    inner = _Coco()
    assert blind_spots(TiledDetector(inner)) == blind_spots(inner) == {}


class _Scene:
    """A model seeing a fixed scene: the whole picture at 640 finds every person whole but not confidently;
    a tile finds each person's part inside it more confidently (higher resolution), as a real model does
    with a person the tile cuts. Each crop's place is read from its first pixel (the test paints x, y in)."""

    name = "scene"
    labels: Mapping[int, str] = MappingProxyType({0: "person"})

    def __init__(self, people: Sequence[tuple[float, float, float, float]]) -> None:
        self.people = people

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        found = []
        for image in images:
            x0, y0 = int(image[0, 0, 0]) * 4, int(image[0, 0, 1]) * 4
            height, width = image.shape[:2]
            if (x0, y0, width) == (0, 0, 400) and height == 400:
                found.append([person(*p, conf=0.6) for p in self.people])
                continue
            parts = []
            for a, b, c, d in self.people:
                box = (max(a, x0), max(b, y0), min(c, x0 + width), min(d, y0 + height))
                if box[0] < box[2] and box[1] < box[3]:
                    parts.append(person(box[0] - x0, box[1] - y0, box[2] - x0, box[3] - y0, conf=0.9))
            found.append(parts)
        return found


def _painted(size: int = 400) -> np.ndarray:
    """Every pixel holds its own x / 4 and y / 4, so a crop knows where it was cut from."""
    image = np.zeros((size, size, 3), np.uint8)
    image[:, :, 0] = (np.arange(size) // 4)[None, :]
    image[:, :, 1] = (np.arange(size) // 4)[:, None]
    return image


def test_a_person_the_tiles_cut_in_two_is_counted_once() -> None:
    """Tiles of 400 px at 20 % overlap meet at 177-223 px; a person standing 150-300 px tall crosses both
    seams' bands, so each tile sees half of them, more confidently than the first pass sees them whole."""
    tall = (100.0, 150.0, 130.0, 300.0)
    small = (300.0, 190.0, 312.0, 214.0)  # inside the overlap band: whole in the tiles above and below it
    others = [(20.0 + 14 * i, 330.0, 30.0 + 14 * i, 390.0) for i in range(18)]  # enough to tile
    scene = _Scene([tall, small, *others])
    image = _painted()
    counted = len(TiledDetector(scene, min_persons=20).detect([image])[0])
    before = len(TiledDetector(scene, min_persons=20, edge_margin=0.0).detect([image])[0])
    assert counted == 20  # each person once
    assert before > counted  # without the cut filter the halves of the tall person count twice


def test_a_tile_box_at_the_pictures_own_edge_is_not_cut() -> None:
    left, right = tiles(400, 400, 2, 0.2)[:2]
    assert cut_by_tile((0.0, 10.0, 30.0, 60.0), left, (400, 400), 0.03) is False  # the picture's left edge
    assert cut_by_tile((200.0, 10.0, 222.0, 60.0), left, (400, 400), 0.03) is True  # the tile's right seam
    assert cut_by_tile((370.0, 10.0, 400.0, 60.0), right, (400, 400), 0.03) is False
