"""The detection batcher: batches across cameras, and one bad frame fails only its own camera."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import numpy as np

from detect.analysis.batcher import DetectionBatcher
from models.records import Detection

PERSON = Detection((1, 2, 3, 4), 0.9, "person", 0)


class PickyDetector:
    """Refuses any frame whose first pixel is 255 (a stand-in for a frame the back-end chokes on)."""

    def __init__(self) -> None:
        self.name = "picky"
        self.labels: Mapping[int, str] = {0: "person"}
        self.calls: list[int] = []

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        self.calls.append(len(images))
        if any(image[0, 0, 0] == 255 for image in images):
            raise RuntimeError("cannot run this frame")
        return [[PERSON] for _ in images]


async def test_frames_from_many_cameras_share_a_batch_and_a_bad_frame_fails_alone() -> None:
    detector = PickyDetector()
    batcher = DetectionBatcher(detector, max_batch=8)
    good = np.zeros((4, 4, 3), np.uint8)
    bad = np.full((4, 4, 3), 255, np.uint8)
    try:
        results = await asyncio.gather(
            *(batcher.detect(image) for image in [good, good, bad, good]), return_exceptions=True
        )
    finally:
        await batcher.aclose()
    assert detector.calls[0] == 4, "the four cameras' frames went in one call"
    assert [r == [PERSON] for r in results] == [True, True, False, True]
    assert isinstance(results[2], RuntimeError)
