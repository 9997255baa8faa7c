"""gridwatch's NumPy ByteTrack gives Ultralytics' BYTETracker's tracks, frame for frame, on random scenes.

The scenes have what trips a tracker: people crossing, walking out and back in, missed frames, weak
detections that only the second association may take, duplicates, and boxes of zero size.
"""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from detect.bytetrack import BYTETracker
from detect.tracking import ByteTracker
from models.records import Detection
from tests.conftest import REPO

SETTINGS = {
    "track_high_thresh": 0.25,
    "track_low_thresh": 0.1,
    "new_track_thresh": 0.25,
    "track_buffer": 10,
    "match_thresh": 0.9,
    "fuse_score": True,
}


class Boxes:
    """The slice of Ultralytics' ``Boxes`` its BYTETracker reads."""

    def __init__(self, xyxy: np.ndarray, conf: np.ndarray, cls: np.ndarray) -> None:
        self.xyxy, self.conf, self.cls = xyxy, conf, cls

    @property
    def xywh(self) -> np.ndarray:
        wh = self.xyxy[:, 2:4] - self.xyxy[:, 0:2]
        return np.concatenate([self.xyxy[:, 0:2] + wh / 2.0, wh], axis=1)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, mask: Any) -> Boxes:
        return Boxes(self.xyxy[mask], self.conf[mask], self.cls[mask])


def scene(seed: int, frames: int = 80) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    people = rng.integers(3, 14)
    start = rng.uniform([0, 0], [700, 500], size=(people, 2))
    velocity = rng.normal(0, 12, size=(people, 2))
    size = rng.uniform([20, 50], [60, 140], size=(people, 2))
    shown = rng.uniform(0.5, 0.95, size=people)
    out = []
    for t in range(frames):
        centre = start + velocity * t + rng.normal(0, 3, size=(people, 2))
        wh = size * rng.uniform(0.9, 1.1, size=(people, 2))
        seen = rng.random(people) < shown
        xyxy = np.concatenate([centre - wh / 2, centre + wh / 2], axis=1)[seen]
        conf = rng.choice([rng.uniform(0.3, 0.95), rng.uniform(0.11, 0.3)], size=seen.sum(), p=[0.8, 0.2])
        if len(xyxy) and rng.random() < 0.1:  # a duplicate box, and a box of no width
            xyxy = np.vstack([xyxy, xyxy[:1] + 2, xyxy[:1] * [1, 1, 0, 1] + [0, 0, xyxy[0, 0], 0]])
            conf = np.r_[conf, 0.5, 0.6]
        cls = rng.integers(0, 3, size=len(xyxy))
        order = rng.permutation(len(xyxy))
        out.append(
            (xyxy[order].astype(np.float32), conf[order].astype(np.float32), cls[order].astype(np.float32))
        )
    return out


@pytest.mark.parametrize("seed", range(12))
def test_same_tracks_as_ultralytics(seed: int) -> None:
    from ultralytics.trackers.byte_tracker import BYTETracker as Reference

    ours = BYTETracker(**SETTINGS)  # type: ignore[arg-type]
    reference = Reference(SimpleNamespace(tracker_type="bytetrack", **SETTINGS))  # type: ignore[no-untyped-call]
    tracked = 0
    for frame, (xyxy, conf, cls) in enumerate(scene(seed)):
        expected = reference.update(Boxes(xyxy, conf, cls))
        got = ours.update(xyxy, conf, cls)
        assert got.shape == expected.reshape(-1, 8).shape, (seed, frame)
        np.testing.assert_array_equal(got[:, 4:], expected.reshape(-1, 8)[:, 4:], err_msg=f"frame {frame}")
        np.testing.assert_allclose(got[:, :4], expected.reshape(-1, 8)[:, :4], rtol=0, atol=1e-3)
        tracked += len(got)
    assert tracked > 50  # the scene really exercised tracking


def test_tracker_ids_follow_a_walker_through_a_miss() -> None:
    tracker = ByteTracker(frame_rate=2.0)
    assert tracker.update([]) == []
    ids = []
    for t in range(8):
        seen = [] if t == 4 else [Detection((100.0 + 10 * t, 50.0, 140.0 + 10 * t, 150.0), 0.8, "person", 0)]
        ids += [d.track_id for d in tracker.update(seen)]
    assert ids[0] is None  # a track born after the first frame needs a second sighting
    assert len(set(ids[1:])) == 1 and ids[1] is not None


def test_tracking_imports_no_torch() -> None:
    code = "import sys, detect.tracking; sys.exit('torch' in sys.modules or 'ultralytics' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO, check=False).returncode == 0
