"""Crowd count error on the eval set's crowd pictures, with and without the tiled pass (detect/tiling.py).

    GRIDWATCH_MODEL_DIRS=../shared/models .venv/bin/python -m bench.crowd_count

Stills only (a video's count is the most persons in one analysed frame: `gridwatch eval` reports those);
dense scenes (rough count ≥ 25) are shown apart, since one input size undercounts them most.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2

from bench.fire_false_alarms import EVAL
from detect.labels import PERSON_LIKE
from detect.tiling import TiledDetector

DENSE = 25


def main() -> int:
    from detect.backends.factory import model_dirs
    from detect.backends.ultralytics import UltralyticsDetector
    from detect.registry import resolve_person_model
    from models.config.detectors import PersonDetectorConfig

    plain = UltralyticsDetector.from_resolved(resolve_person_model(None, model_dirs()))
    threshold = PersonDetectorConfig().tiles_above_persons or 1
    tiled = TiledDetector(plain, min_persons=threshold)
    items = json.loads((EVAL / "items.json").read_text(encoding="utf-8"))
    rows = []
    for item in items:
        file = str(item["file"])
        if not file.startswith("crowd/") or not item.get("rough_persons") or Path(file).suffix == ".mp4":
            continue
        image = cv2.imread(str(EVAL / file))
        if image is None:
            print(f"cannot read {file}", file=sys.stderr)
            return 2
        rough = int(item["rough_persons"])
        one = sum(d.label in PERSON_LIKE for d in plain.detect([image])[0])
        both = sum(d.label in PERSON_LIKE for d in tiled.detect([image])[0])
        rows.append((rough >= DENSE, file, rough, one, both))
    print(f"| scene | rough | one pass (error) | with tiled pass ≥ {threshold} (error) |")
    print("|---|---|---|---|")
    for dense in (True, False):
        for _, file, rough, one, both in sorted(r for r in rows if r[0] is dense):
            print(
                f"| {file}{' (dense)' if dense else ''} | {rough} | {one} ({(one - rough) / rough:+.0%}) "
                f"| {both} ({(both - rough) / rough:+.0%}) |"
            )
        chosen = [r for r in rows if r[0] is dense]
        if chosen:
            one_err = sum(abs(r[3] - r[2]) / r[2] for r in chosen) / len(chosen)
            both_err = sum(abs(r[4] - r[2]) / r[2] for r in chosen) / len(chosen)
            label = "dense scenes" if dense else "other scenes"
            print(f"| **mean abs error, {label}** | | {one_err:.0%} | **{both_err:.0%}** |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
