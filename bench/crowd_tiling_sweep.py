"""How the tiled pass's seam margin and trigger were chosen: every variant on the TUNING half's crowds only.

    GRIDWATCH_MODEL_DIRS=../shared/models .venv/bin/python -m bench.crowd_tiling_sweep

Each tuning crowd (rough count ≥ 10) counted as `gridwatch eval` counts it (detect/evaluation/judge.py:
the crowd rule's count after the tracker, the most in one analysed frame) with the tiled pass at each
seam margin (share of a tile's side; 0: no filter) and each trigger (persons in the first pass). The model
runs once per distinct picture or tile (cached by content), so the sweep costs about one tiled eval of
the tuning crowds. Held-out scenes are not read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np

from bench.fire_false_alarms import EVAL
from detect.evaluation.dataset import Split, load_items, split_of
from detect.evaluation.judge import judge
from detect.evaluation.observe import observe
from detect.port import Detector
from detect.tiling import TiledDetector
from models.records import Detection

MARGINS = (0.0, 0.01, 0.02, 0.03, 0.05)
TRIGGERS = (8, 10, 12, 15, 20, 30, 44)
TOLERANCE = 0.25


class Cached:
    """The wrapped detector, run once per distinct picture (a tile is a picture too)."""

    def __init__(self, inner: Detector) -> None:
        self._inner = inner
        self.name = inner.name
        self.labels: Mapping[int, str] = inner.labels
        self._seen: dict[bytes, list[Detection]] = {}

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        keys = [
            hashlib.sha1(np.ascontiguousarray(i).tobytes() + bytes(str(i.shape), "ascii")).digest()
            for i in images
        ]
        missing = [(k, i) for k, i in zip(keys, images, strict=True) if k not in self._seen]
        if missing:
            for (key, _), found in zip(missing, self._inner.detect([i for _, i in missing]), strict=True):
                self._seen[key] = found
        return [self._seen[k] for k in keys]


def main() -> int:
    from detect.backends.factory import model_dirs
    from detect.backends.ultralytics import UltralyticsDetector
    from detect.registry import resolve_person_model

    model = Cached(UltralyticsDetector.from_resolved(resolve_person_model(None, model_dirs())))
    items = load_items(EVAL)
    halves = split_of(items)
    crowds = [
        i
        for i in items
        if halves[i.scene] is Split.TUNE and i.rough_persons is not None and i.rough_persons >= 10
    ]
    names = [i.file.rpartition("/")[2][:24] for i in crowds]
    print(f"| seam margin | trigger | within ±25 % | mean abs error | {' | '.join(names)} |")
    print(f"|---|---|---|---|{'---|' * len(names)}")
    for margin in MARGINS:
        for trigger in TRIGGERS:
            detector = TiledDetector(model, min_persons=trigger, edge_margin=margin)
            counts = [judge(observe(i, EVAL, [detector])).persons for i in crowds]
            errors = [(c - i.rough_persons) / i.rough_persons for c, i in zip(counts, crowds, strict=True)]  # type: ignore[operator]
            ok = sum(abs(e) <= TOLERANCE for e in errors)
            mae = sum(abs(e) for e in errors) / len(errors)
            cells = " | ".join(f"{c} ({e:+.0%})" for c, e in zip(counts, errors, strict=True))
            print(f"| {margin:g} | {trigger} | {ok}/{len(crowds)} | {mae:.0%} | {cells} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
