"""Crowd count error on the eval set's crowd scenes: one pass, the tiled pass as it was, the tiled pass now.

    GRIDWATCH_MODEL_DIRS=../shared/models .venv/bin/python -m bench.crowd_count

Each file's count is what `gridwatch eval` scores: the crowd rule's count after the tracker
(detect/evaluation/judge.py), the most in one analysed frame; a still is one frame. Columns: the person
model's one pass; the tiled pass (detect/tiling.py) without the filter that drops boxes cut by a tile's
seam (the tiled pass of 2026-12-05); the tiled pass as the service runs it now. Dense scenes (rough count
≥ 25) are shown apart, since one input size undercounts them most. The split (tune / holdout) is the
eval's: thresholds are chosen on the tuning half only.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from bench.fire_false_alarms import EVAL
from detect.evaluation.dataset import EvalItem, load_items, split_of
from detect.evaluation.judge import judge
from detect.evaluation.observe import observe
from detect.port import Detector
from detect.tiling import TiledDetector

DENSE = 25


class Row(NamedTuple):
    dense: bool
    half: str
    file: str
    rough: int
    one: int
    before: int
    now: int


def _count(item: EvalItem, detector: Detector) -> int:
    return judge(observe(item, EVAL, [detector])).persons


def _one(row: Row) -> int:
    return row.one


def _before(row: Row) -> int:
    return row.before


def _now(row: Row) -> int:
    return row.now


def _error(counted: int, rough: int) -> str:
    return f"{counted} ({(counted - rough) / rough:+.0%})"


def main() -> int:
    from detect.backends.factory import model_dirs
    from detect.backends.ultralytics import UltralyticsDetector
    from detect.registry import resolve_person_model
    from models.config.detectors import PersonDetectorConfig

    plain = UltralyticsDetector.from_resolved(resolve_person_model(None, model_dirs()))
    threshold = PersonDetectorConfig().tiles_above_persons or 1
    before = TiledDetector(plain, min_persons=threshold, edge_margin=0.0)
    now = TiledDetector(plain, min_persons=threshold)
    items = load_items(EVAL)
    halves = split_of(items)
    rows: list[Row] = []
    for item in items:
        rough = item.rough_persons
        if not item.file.startswith("crowd/") or not rough:
            continue
        counts = [_count(item, detector) for detector in (plain, before, now)]
        rows.append(Row(rough >= DENSE, str(halves[item.scene]), item.file, rough, *counts))
    print(
        f"| scene | half | rough | one pass (error) | tiled ≥ {threshold}, no seam filter (error) "
        f"| tiled ≥ {threshold} now (error) |"
    )
    print("|---|---|---|---|---|---|")
    for dense in (True, False):
        chosen = sorted(r for r in rows if r.dense is dense)
        for r in chosen:
            print(
                f"| {Path(r.file).name}{' (dense)' if dense else ''} | {r.half} | {r.rough} "
                f"| {_error(r.one, r.rough)} | {_error(r.before, r.rough)} | {_error(r.now, r.rough)} |"
            )
        if chosen:
            errors = [
                sum(abs(counted - r.rough) / r.rough for r in chosen for counted in [pick(r)]) / len(chosen)
                for pick in (_one, _before, _now)
            ]
            label = "dense scenes" if dense else "other scenes"
            print(
                f"| **mean abs error, {label}** | | | {errors[0]:.0%} | {errors[1]:.0%} "
                f"| **{errors[2]:.0%}** |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
