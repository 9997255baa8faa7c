from __future__ import annotations

import cv2
import numpy as np
import pytest

from detect.analysis.evidence import annotate_live, clean_snapshot, head_box, pixelate_heads, render_snapshot
from models.records import Detection, Zone, ZoneKind

PERSON = Detection((100.0, 50.0, 180.0, 250.0), 0.9, "person", 0)
VAN = Detection((300.0, 100.0, 500.0, 220.0), 0.8, "vehicle", 7)
ZONES = (Zone("路口", ZoneKind.CROWD, ((10, 10), (600, 10), (600, 300), (10, 300))),)


@pytest.fixture
def noise() -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (320, 640, 3), dtype=np.uint8)


def test_head_is_the_top_fifth_of_the_person_box(noise: np.ndarray) -> None:
    assert head_box(PERSON, noise.shape) == (100, 50, 180, 90)
    partly_outside = Detection((-20.0, -30.0, 40.0, 170.0), 0.9, "person", 0)
    assert head_box(partly_outside, noise.shape) == (0, 0, 40, 10)
    assert head_box(Detection((700.0, 0.0, 800.0, 100.0), 0.9, "person", 0), noise.shape) is None


def test_only_heads_are_pixelated(noise: np.ndarray) -> None:
    out = pixelate_heads(noise, [PERSON, VAN])
    changed = np.any(out != noise, axis=2)
    rows, cols = np.nonzero(changed)
    assert rows.min() >= 50 and rows.max() < 90 and cols.min() >= 100 and cols.max() < 180
    head = out[50:90, 100:180].astype(int)
    # Blocks: most horizontally adjacent pixels are now equal (they almost never are in noise).
    assert np.mean(np.all(head[:, 1:] == head[:, :-1], axis=2)) > 0.8
    assert np.array_equal(
        out[100:220, 300:500], noise[100:220, 300:500]
    )  # vehicles keep their plates' context
    assert np.array_equal(noise, np.random.default_rng(7).integers(0, 256, (320, 640, 3), dtype=np.uint8))


def test_snapshots_are_jpeg_of_the_same_size(noise: np.ndarray) -> None:
    drawn = render_snapshot(noise, [PERSON, VAN], ZONES)
    clean = clean_snapshot(noise, [PERSON, VAN])
    for jpeg in (drawn, clean):
        assert jpeg[:2] == b"\xff\xd8"
        decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape == noise.shape
    assert drawn != clean


def test_live_view_draws_boxes_and_zones_on_a_copy() -> None:
    black = np.zeros((320, 640, 3), np.uint8)
    live = annotate_live(black, [VAN], ZONES)
    assert live.shape == black.shape and not black.any()
    assert live[100, 400].any()  # top edge of the van box
    assert live[10, 300].any()  # top edge of the zone
    assert not live[160, 400].any()  # inside the box stays untouched
