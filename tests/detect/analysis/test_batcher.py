"""The detection batcher: batches across cameras, and one bad frame fails only its own camera."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from api.batcher import DetectionBatcher
from models.records import Detection
from tests.servers import run_cli

PERSON = Detection((1, 2, 3, 4), 0.9, "person", 0)


class PickyDetector:
    """Refuses any frame whose first pixel is 255 (a stand-in for a frame the back-end chokes on)."""

    def __init__(self) -> None:
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


@pytest.mark.parametrize("content", [b"", b"not a torch pickle at all"])
def test_corrupt_weights_stop_start_up_with_one_line_naming_the_file(tmp_path: Path, content: bytes) -> None:
    weights = tmp_path / "broken.pt"
    weights.write_bytes(content)
    config = tmp_path / "site.yaml"
    config.write_text(
        f"site: {{name: t}}\ncameras: []\nmodels: {{person: {{weights: '{weights}'}}}}\n", encoding="utf-8"
    )
    result = run_cli(
        "serve", "--config", str(config), env={"GRIDWATCH_SECRET_KEY": "k" * 40, "PATH": "/usr/bin"}
    )
    assert result.returncode == 2, result.stderr
    # serve narrates at INFO before it fails; the failure itself is one line.
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert str(weights) in line and "Traceback" not in result.stderr
