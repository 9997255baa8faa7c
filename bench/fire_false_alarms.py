"""False fire/smoke incidents per camera-day: the service's fire model and rules over long negative video.

Real street footage that holds no fire (the demo's vtest.avi street, the eval set's plaza and crosswalk
clips, and the ``fire_negative`` stills as static cameras) is looped to at least 24 simulated hours per
source. Each looped source is one camera with a whole-frame fire zone, analysed the way the service
analyses it: the fire model (built as serve builds it, on the person model's runtime) looks every
``fire_every_seconds`` (2 s), and its boxes go to ``CameraAnalyzer`` with the service's fire rules
(per-frame votes, then the temporal stage of ``detect/rules/fire_temporal.py``). Every event START is one
false incident.

Which frame a look lands on depends on when the node gets to it, so the model is run once on every frame
of each file (cached in ``--cache``) and looks fall on any of them, two ways:

- **steady**: exactly every 2 s, the phase moved on by one frame of the file each loop, so that every
  frame is the first look of some loop;
- **loaded**: 2 to 4 s apart at random (seeded), as on a node whose CPU is busy: the camera loop analyses
  the frame that is there when it gets round to it.

    GRIDWATCH_MODEL_DIRS=../shared/models .venv/bin/python -m bench.fire_false_alarms --hours 24
"""

from __future__ import annotations

import argparse
import json
import logging
import random
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
FIRE_EVERY_S = 2.0
#: A loaded node's looks: this many seconds apart at most (uniformly from FIRE_EVERY_S).
LOADED_MAX_S = 4.0
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


def frames_of(source: Source) -> Iterator[np.ndarray]:
    """Every frame of one loop of the file, read one at a time; a still is one frame, shown for ever."""
    if source.still:
        image = cv2.imread(str(source.path))
        if image is None:
            raise SystemExit(f"cannot read {source.path}")
        yield image
        return
    capture = cv2.VideoCapture(str(source.path))
    try:
        ok, image = capture.read()
        if not ok:
            raise SystemExit(f"cannot read {source.path}")
        while ok:
            yield image
            ok, image = capture.read()
    finally:
        capture.release()


def fps_of(source: Source) -> float:
    if source.still:
        return 1.0
    capture = cv2.VideoCapture(str(source.path))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    capture.release()
    return float(fps)


def _box(d: Detection) -> dict[str, Any]:
    return {"label": d.label, "confidence": d.confidence, "xyxy": list(d.xyxy), "class_id": d.class_id}


@dataclass(frozen=True)
class Boxes:
    """The fire model's boxes on every frame of one loop of a source."""

    fps: float
    frames: list[list[Detection]]

    @property
    def loop_s(self) -> float:
        return len(self.frames) / self.fps

    def at(self, seconds: float) -> list[Detection]:
        return self.frames[int(seconds * self.fps) % len(self.frames)]


def fire_boxes(srcs: Sequence[Source], cache: Path) -> dict[str, Boxes]:
    """The fire model's boxes on every frame of each source, computed once and cached."""
    stored: dict[str, dict[str, Any]] = json.loads(cache.read_text()) if cache.exists() else {}
    todo = [s for s in srcs if s.name not in stored]
    if todo:
        from detect.backends.factory import build_detector, build_fire_detector

        # As serve builds it: on the person model's runtime (OpenVINO for the shipped models).
        detector = build_fire_detector(person=build_detector())
        if detector is None:
            raise SystemExit("fire model not installed: pip install 'gridwatch[fire]'")
        for source in todo:
            found = [detector.detect([image])[0] for image in frames_of(source)]
            stored[source.name] = {
                "fps": fps_of(source),
                "frames": [[_box(d) for d in frame] for frame in found],
            }
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(stored))
            print(f"{source.name}: {len(found)} frames", file=sys.stderr, flush=True)
    return {
        name: Boxes(
            float(entry["fps"]),
            [
                [
                    Detection(tuple(b["xyxy"]), float(b["confidence"]), str(b["label"]), int(b["class_id"]))
                    for b in frame
                ]
                for frame in entry["frames"]
            ],
        )
        for name, entry in stored.items()
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


def look_times(boxes: Boxes, hours: float, *, loaded: bool, seed: int = 0) -> Iterator[float]:
    """When the fire model looks, in seconds from the start, over ``hours`` of the source on repeat."""
    end = hours * 3600
    if loaded:
        rng = random.Random(seed)
        at = 0.0
        while at < end:
            yield at
            at += rng.uniform(FIRE_EVERY_S, LOADED_MAX_S)
        return
    phases = max(1, round(FIRE_EVERY_S * boxes.fps))
    loop = 0
    while True:
        start = loop * boxes.loop_s
        at = start + (loop % phases) / boxes.fps
        while at < start + boxes.loop_s:
            if at >= end:
                return
            yield at
            at += FIRE_EVERY_S
        loop += 1


def false_starts(
    camera: Camera, boxes: Boxes, hours: float, *, temporal: bool, loaded: bool = False
) -> dict[str, int]:
    from detect.rules import FireRule
    from models.records import EventKind

    def rules(zone: Zone) -> list[FireRule]:
        change = None if temporal else 0.0
        return [
            FireRule(zone, kind=kind, min_change=change, frame_size=camera.frame_size)
            for kind in (EventKind.FIRE, EventKind.SMOKE)
        ]

    analyzer = CameraAnalyzer(camera, rules=rules, clips=False)
    blank = np.zeros((camera.frame_size[1], camera.frame_size[0], 3), np.uint8)
    starts = {"fire": 0, "smoke": 0}
    for seconds in look_times(boxes, hours, loaded=loaded):
        at = T0 + timedelta(seconds=seconds)
        for report in analyzer.analyze(list(boxes.at(seconds)), blank, at, ran={Model.FIRE}):
            if report.phase is Phase.START:
                starts[str(report.event.kind)] += 1
    return starts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours per source (default 24)")
    parser.add_argument(
        "--cache", type=Path, default=Path(".cache/bench/fire_negative_boxes_every_frame.json")
    )
    args = parser.parse_args(argv)
    if args.hours <= 0:
        print("--hours must be positive", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("detect").setLevel(logging.ERROR)
    srcs = sources()
    boxes = fire_boxes(srcs, args.cache)
    header = ["source", "frames per loop", "camera-hours", "votes only, steady: fire / smoke"]
    stages = ["with temporal stage, steady: fire / smoke", "with temporal stage, loaded: fire / smoke"]
    print("| " + " | ".join([*header, *stages]) + " |")
    print("|---|---|---|---|---|---|")
    total_hours = 0.0
    totals = {"plain": 0, "steady": 0, "loaded": 0}
    for source in srcs:
        found = boxes[source.name]
        camera = camera_for(source, next(frames_of(source)))
        runs = {
            "plain": false_starts(camera, found, args.hours, temporal=False),
            "steady": false_starts(camera, found, args.hours, temporal=True),
            "loaded": false_starts(camera, found, args.hours, temporal=True, loaded=True),
        }
        for name, starts in runs.items():
            totals[name] += sum(starts.values())
        total_hours += args.hours
        cells = [f"{runs[n]['fire']} / {runs[n]['smoke']}" for n in ("plain", "steady", "loaded")]
        print(f"| {source.name} | {len(found.frames)} | {args.hours:g} | " + " | ".join(cells) + " |")
    days = total_hours / 24
    cells = [f"{totals[n]} ({totals[n] / days:.2f} per camera-day)" for n in ("plain", "steady", "loaded")]
    print(f"| **all** | | **{total_hours:g}** | " + " | ".join(f"**{c}**" for c in cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
