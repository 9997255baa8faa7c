"""Per-camera multi-object tracking: gives Detections a ``track_id`` that persists across frames.

ByteTrack as Ultralytics runs it, in gridwatch's NumPy port (detect/bytetrack.py: no torch), fed our
Detections instead of a Results object, so any Detector works.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from detect.bytetrack import BYTETracker
from models.records import Detection

logger = logging.getLogger(__name__)


class Tracker(Protocol):
    def update(self, detections: Sequence[Detection]) -> list[Detection]:
        """The same detections, in the same order, with ``track_id`` set where a track is confirmed."""
        ...


class ByteTracker:
    """One instance per camera; not thread-safe (the analyzer of a camera runs on one thread)."""

    def __init__(
        self,
        *,
        frame_rate: float = 2.0,
        # Keep lost tracks long enough for a pedestrian to pass in front of a parked van.
        track_buffer_seconds: float = 5.0,
        track_high_thresh: float = 0.25,
        track_low_thresh: float = 0.1,
        new_track_thresh: float = 0.25,
        # At 2 fps people move far between frames; ByteTrack's 0.8 default (for 30 fps) loses them.
        match_thresh: float = 0.9,
    ) -> None:
        self._tracker = BYTETracker(
            track_high_thresh=track_high_thresh,
            track_low_thresh=track_low_thresh,
            new_track_thresh=new_track_thresh,
            track_buffer=max(1, round(track_buffer_seconds * frame_rate)),
            match_thresh=match_thresh,
            fuse_score=True,
        )

    def update(self, detections: Sequence[Detection]) -> list[Detection]:
        tracks = self._tracker.update(
            np.asarray([d.xyxy for d in detections], dtype=np.float32).reshape(-1, 4),
            np.asarray([d.confidence for d in detections], dtype=np.float32),
            np.asarray([d.class_id for d in detections], dtype=np.float32),
        )
        ids: dict[int, int] = {}
        for row in tracks:
            # Rows are [x1, y1, x2, y2, track_id, score, cls, idx]; idx points back into our input.
            ids[int(row[7])] = int(row[4])
        return [dataclasses.replace(d, track_id=ids.get(i)) for i, d in enumerate(detections)]
