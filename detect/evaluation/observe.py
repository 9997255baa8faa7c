"""The edge of the evaluation: decode each file and run the detectors once, keeping every detection.

Detectors run once per file at a low confidence floor; thresholds are applied afterwards by the rules
(``judge``), so a threshold sweep costs milliseconds instead of another pass of the models.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detect.evaluation.dataset import EvalDataError, EvalItem
from detect.port import Detector
from models.records import Detection

logger = logging.getLogger(__name__)

#: The service's default analysis rate; videos are sampled at it so the rules see what they would live.
ANALYSIS_FPS = 2.0


@dataclass(frozen=True, slots=True)
class Observation:
    item: EvalItem
    frame_size: tuple[int, int]
    #: (seconds since the file's start, all detections of every detector) per analysed frame.
    frames: tuple[tuple[float, tuple[Detection, ...]], ...]
    #: Length of the video in seconds; 0 for a still image.
    duration_s: float


def _video_frames(path: Path, fps: float) -> list[tuple[float, np.ndarray]]:
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise EvalDataError(f"{path}: cannot be decoded as video")
        native = capture.get(cv2.CAP_PROP_FPS) or 25.0
        step = max(1, round(native / fps))
        frames: list[tuple[float, np.ndarray]] = []
        index = 0
        while True:
            ok = capture.grab()
            if not ok:
                break
            if index % step == 0:
                ok, image = capture.retrieve()
                if ok:
                    frames.append((index / native, image))
            index += 1
        return frames
    finally:
        capture.release()


def observe(
    item: EvalItem,
    root: Path,
    detectors: Sequence[Detector],
    *,
    fps: float = ANALYSIS_FPS,
    batch: int = 4,
) -> Observation:
    path = root / item.file
    if item.is_video:
        pictures = _video_frames(path, fps)
        if not pictures:
            raise EvalDataError(f"{path}: no frames could be decoded")
    else:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise EvalDataError(f"{path}: cannot be decoded as an image")
        pictures = [(0.0, image)]
    height, width = pictures[0][1].shape[:2]
    frames: list[tuple[float, tuple[Detection, ...]]] = []
    for start in range(0, len(pictures), batch):
        chunk = pictures[start : start + batch]
        per_detector = [detector.detect([image for _, image in chunk]) for detector in detectors]
        for offset, (seconds, _) in enumerate(chunk):
            found = tuple(d for results in per_detector for d in results[offset])
            frames.append((seconds, found))
    duration = pictures[-1][0] + 1.0 / fps if item.is_video else 0.0
    return Observation(item, (width, height), tuple(frames), duration)


def observe_all(
    items: Sequence[EvalItem],
    root: Path,
    detectors: Sequence[Detector],
    *,
    progress: Callable[[int, int, EvalItem], None] | None = None,
) -> list[Observation]:
    observations = []
    for done, item in enumerate(items):
        if progress is not None:
            progress(done, len(items), item)
        observations.append(observe(item, root, detectors))
    return observations
