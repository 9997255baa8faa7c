"""The tiled pass for dense crowds: windows cover the picture, merged boxes count each person once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import cv2
import numpy as np
import pytest

from detect.backends.ultralytics import UltralyticsDetector
from detect.labels import PERSON_LIKE, blind_spots
from detect.tiling import TiledDetector, merge, tiles
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
