"""False fire/smoke incidents per camera-day: the service's fire model and rules over long negative video.

Real street footage that holds no fire (the demo's vtest.avi street, the eval set's plaza and crosswalk
clips, and the ``fire_negative`` stills as static cameras) is looped to at least 24 simulated hours per
source. Each looped source is one camera with a whole-frame fire zone, analysed the way the service
analyses it: frames taken at ``analysis_fps`` (2), the fire model run on every ``fire_every_seconds`` (2 s)
of them, and its boxes fed to ``CameraAnalyzer`` with the service's fire rules (per-frame votes, then the
temporal stage of ``detect/rules/fire_temporal.py``). Every event START is one false incident.

A looped file gives the same pictures each loop, so the fire model is run once per distinct frame (the
frames at the analysis rate: loop length × 2) and its boxes are cached in ``--cache``; the rules, which
carry state across loops, see every simulated check. The phase of the 2 s fire checks against each loop
drifts by 0.5 s per loop wherever the loop is not a multiple of 2 s, so every analysed frame is checked.

    GRIDWATCH_MODEL_DIRS=../shared/models .venv/bin/python -m bench.fire_false_alarms --hours 24
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench.common import VTEST
from detect.analysis.analyzer import CameraAnalyzer
from detect.rules import Model, Phase
from models.records import Camera, Detection, Zone, ZoneKind

EVAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "eval"
ANALYSIS_FPS = 2.0
FIRE_EVERY_S = 2.0
T0 = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Source:
    name: str
    path: Path
    #: A still is a static camera: one picture for every analysed frame.
    still: bool = False


def sources(eval_dir: Path = EVAL) -> list[Source]:
    videos = [
        Source("vtest street (demo)", VTEST),
        Source("plaza top-down CCTV", eval_dir / "crowd" / "atharva__plaza_topdown_cctv.mp4"),
        Source("crosswalk commuters", eval_dir / "crowd" / "varshini__crosswalk_commuters.mp4"),
    ]
    stills = [
        Source(p.name, p, still=True)
        for p in sorted((eval_dir / "fire_negative").iterdir())
        if p.suffix in {".jpg", ".png"}
    ]
    return videos + stills


def analysed_frames(source: Source) -> list[np.ndarray]:
    """The frames the service would analyse in one loop of the file: one every 1/ANALYSIS_FPS seconds."""
    if source.still:
        image = cv2.imread(str(source.path))
        if image is None:
            raise SystemExit(f"cannot read {source.path}")
        return [image]
    capture = cv2.VideoCapture(str(source.path))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    frames: list[np.ndarray] = []
    index, next_at = 0, 0.0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        if index / fps >= next_at:
            frames.append(image)
            next_at += 1 / ANALYSIS_FPS
        index += 1
    capture.release()
    if not frames:
        raise SystemExit(f"cannot read {source.path}")
    return frames


def _box(d: Detection) -> dict[str, Any]:
    return {"label": d.label, "confidence": d.confidence, "xyxy": list(d.xyxy), "class_id": d.class_id}


def fire_boxes(srcs: Sequence[Source], cache: Path) -> dict[str, list[list[Detection]]]:
    """The fire model's boxes on every analysed frame of each source, computed once and cached."""
    stored: dict[str, list[list[dict[str, Any]]]] = json.loads(cache.read_text()) if cache.exists() else {}
    todo = [s for s in srcs if s.name not in stored]
    if todo:
        from detect.backends.factory import build_fire_detector

        detector = build_fire_detector()
        if detector is None:
            raise SystemExit("fire model not installed: pip install 'gridwatch[fire]'")
        for source in todo:
            frames = analysed_frames(source)
            found = [detector.detect([image])[0] for image in frames]
            stored[source.name] = [[_box(d) for d in frame] for frame in found]
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(stored))
            print(f"{source.name}: {len(frames)} analysed frames", file=sys.stderr, flush=True)
    return {
        name: [
            [
                Detection(tuple(b["xyxy"]), float(b["confidence"]), str(b["label"]), int(b["class_id"]))
                for b in frame
            ]
            for frame in frames
        ]
        for name, frames in stored.items()
    }


def camera_for(source: Source, frame: np.ndarray) -> Camera:
    from api.site import demo_site

    height, width = frame.shape[:2]
    whole = ((0.0, 0.0), (float(width), 0.0), (float(width), float(height)), (0.0, float(height)))
    street = demo_site().cameras[0]
    return replace(
        street,
        id=f"neg-{abs(hash(source.name)) % 10**6}",
        frame_size=(width, height),
        zones=(Zone("whole-view", ZoneKind.FIRE, whole),),
    )


def looped(boxes: list[list[Detection]], hours: float) -> Iterator[tuple[datetime, list[Detection]]]:
    """Every fire check of ``hours`` of a camera playing the loop on repeat."""
    checks = int(hours * 3600 / FIRE_EVERY_S)
    for k in range(checks):
        seconds = k * FIRE_EVERY_S
        yield T0 + timedelta(seconds=seconds), boxes[round(seconds * ANALYSIS_FPS) % len(boxes)]


def false_starts(
    camera: Camera, boxes: list[list[Detection]], hours: float, *, temporal: bool
) -> dict[str, int]:
    from detect.rules import FireRule
    from models.records import EventKind

    def rules(zone: Zone) -> list[FireRule]:
        change = None if temporal else 0.0
        return [FireRule(zone, kind=kind, min_change=change) for kind in (EventKind.FIRE, EventKind.SMOKE)]

    analyzer = CameraAnalyzer(camera, rules=rules, clips=False)
    blank = np.zeros((camera.frame_size[1], camera.frame_size[0], 3), np.uint8)
    starts = {"fire": 0, "smoke": 0}
    for at, found in looped(boxes, hours):
        for report in analyzer.analyze(list(found), blank, at, ran={Model.FIRE}):
            if report.phase is Phase.START:
                starts[str(report.event.kind)] += 1
    return starts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours per source (default 24)")
    parser.add_argument("--cache", type=Path, default=Path(".cache/bench/fire_negative_boxes.json"))
    args = parser.parse_args(argv)
    if args.hours <= 0:
        print("--hours must be positive", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("detect").setLevel(logging.ERROR)
    srcs = sources()
    boxes = fire_boxes(srcs, args.cache)
    header = ["source", "analysed frames per loop", "camera-hours", "votes only: fire / smoke"]
    print("| " + " | ".join([*header, "with temporal stage: fire / smoke"]) + " |")
    print("|---|---|---|---|---|")
    total_hours = 0.0
    totals = {True: 0, False: 0}
    for source in srcs:
        first = analysed_frames(source)[0]
        camera = camera_for(source, first)
        found = boxes[source.name]
        plain = false_starts(camera, found, args.hours, temporal=False)
        staged = false_starts(camera, found, args.hours, temporal=True)
        totals[False] += sum(plain.values())
        totals[True] += sum(staged.values())
        total_hours += args.hours
        print(
            f"| {source.name} | {len(found)} | {args.hours:g} | {plain['fire']} / {plain['smoke']} "
            f"| {staged['fire']} / {staged['smoke']} |"
        )
    days = total_hours / 24
    print(
        f"| **all** | | **{total_hours:g}** | {totals[False]} ({totals[False] / days:.2f} per camera-day) "
        f"| **{totals[True]} ({totals[True] / days:.2f} per camera-day)** |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
