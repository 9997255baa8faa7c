"""Turns to a view with nothing of the old one in it, on real footage: does the occupation watch see a mass?

    GRIDWATCH_MODEL_DIRS=../shared/models .venv/bin/python -m bench.static_mass_turns [--footage DIR]

A PTZ preset change often shows a view that shares no pixel with the one before, so there is no shift to
register (detect/static_mass.py). Each row plays view A for 60 s, then view B for 90 s, at the analysis
rate, through one zone over the middle 40 % × 40 % of the picture (T 30 s), with the served person model's
boxes; the views are two clips (B scaled to A's size), or the left and right halves of one wide clip.
Nothing is set down, so any mass is false; "turn seen" counts the zone's log lines that say the whole
picture changed. ``--footage``: the folder with intel-iot-devkit/sample-videos' car-detection.mp4 and
one-by-one-person-detection.mp4 (`gridwatch eval --occupation --footage`); without it their rows are left
out. About 3 minutes on 2 cores.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from bench.fire_false_alarms import EVAL
from detect.evaluation.observe import ANALYSIS_FPS, _video_frames
from detect.evaluation.occupation import VTEST
from detect.port import Detector
from detect.static_mass import StaticMass
from models.records import StaticMassSettings, Zone, ZoneKind

CLIPS = {
    "vtest": str(VTEST),
    "crosswalk": "crowd/varshini__crosswalk_commuters.mp4",
    "plaza": "crowd/atharva__plaza_topdown_cctv.mp4",
    "petrol station": "fire/l0kxh__petrol_station_motorbike_fire.mp4",
    "parking lot": "footage:car-detection.mp4",
    "hall": "footage:one-by-one-person-detection.mp4",
}
TURNS = [
    ("vtest", "crosswalk"),
    ("vtest", "plaza"),
    ("petrol station", "vtest"),
    ("crosswalk", "vtest"),
    ("plaza", "vtest"),
    ("vtest", "vtest"),
    ("crosswalk", "crosswalk"),
    ("plaza", "plaza"),
    ("parking lot", "parking lot"),
    ("hall", "hall"),
]
BEFORE_S, AFTER_S, T_S = 60.0, 90.0, 30.0


def _clip(name: str, footage: Path | None) -> Path | None:
    where = CLIPS[name]
    if where.startswith("footage:"):
        return footage / where.removeprefix("footage:") if footage is not None else None
    return Path(where) if Path(where).is_absolute() else EVAL / where


def _frames(path: Path, count: int) -> list[np.ndarray]:
    frames = [image for _, image in _video_frames(path, ANALYSIS_FPS)]
    loop = frames + frames[::-1]  # played back and forth: no jump where the clip ends
    return [loop[k % len(loop)] for k in range(count)]


def _views(a: Path, b: Path) -> list[np.ndarray]:
    before, after = round(BEFORE_S * ANALYSIS_FPS), round(AFTER_S * ANALYSIS_FPS)
    if a == b:
        frames = _frames(a, before + after)
        half = frames[0].shape[1] // 2
        return [f[:, :half].copy() for f in frames[:before]] + [
            f[:, half : 2 * half].copy() for f in frames[before:]
        ]
    first, second = _frames(a, before), _frames(b, after)
    height, width = first[0].shape[:2]
    return first + [cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in second]


class _Said(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.turns = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "whole picture changed" in record.getMessage():
            self.turns += 1


def play(images: list[np.ndarray], detector: Detector) -> tuple[float | None, int]:
    """When the first mass was reported (seconds from the start) and how many turns the zone saw."""
    height, width = images[0].shape[:2]
    x1, y1, x2, y2 = 0.3 * width, 0.3 * height, 0.7 * width, 0.7 * height
    zone = Zone("turns", ZoneKind.OCCUPATION, ((x1, y1), (x2, y1), (x2, y2), (x1, y2)), min_seconds=T_S,
                static_mass=StaticMassSettings())  # fmt: skip
    watch = StaticMass(zone)
    said = _Said()
    logger = logging.getLogger("detect.static_mass")
    logger.addHandler(said)
    level = logger.level
    logger.setLevel(logging.INFO)
    start = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
    first = None
    try:
        for k, image in enumerate(images):
            if watch.update(image, detector.detect([image])[0], start + timedelta(seconds=k / ANALYSIS_FPS)):
                first = k / ANALYSIS_FPS if first is None else first
    finally:
        logger.removeHandler(said)
        logger.setLevel(level)
    return first, said.turns


def main(argv: list[str]) -> int:
    footage = None
    if argv[:1] == ["--footage"] and len(argv) == 2:
        footage = Path(argv[1])
    elif argv:
        print("usage: python -m bench.static_mass_turns [--footage DIR]", file=sys.stderr)
        return 2
    from api.cli.eval import _person_detector
    from detect.backends.factory import model_dirs
    from detect.registry import resolve_person_model
    from detect.tiling import tiled
    from models.config.detectors import PersonDetectorConfig

    detector = tiled(
        _person_detector(resolve_person_model(None, model_dirs())), PersonDetectorConfig().tiles_above_persons
    )
    print(f"| turn (view A {BEFORE_S:.0f} s, then B) | first mass after the turn | turns seen |")
    print("|---|---|---|")
    for a, b in TURNS:
        pa, pb = _clip(a, footage), _clip(b, footage)
        if pa is None or pb is None:
            continue
        label = f"{a}, left half → right half" if a == b else f"{a} → {b}"
        first, turns = play(_views(pa, pb), detector)
        mass = "none" if first is None else f"at {first:.1f} s ({first - BEFORE_S:.1f} s after it)"
        print(f"| {label} | {mass} | {turns} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
