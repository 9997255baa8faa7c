"""Crowd counts against annotated heads: a dot-annotated crowd set, counted as `gridwatch eval` counts.

    GRIDWATCH_MODEL_DIRS=../shared/models .venv/bin/python -m bench.annotated_crowds DIR [DIR ...]

Each DIR holds pictures in the ShanghaiTech layout: ``…/images/IMG_n.jpg`` with its heads in
``…/ground-truth/GT_IMG_n.mat`` (``image_info[0][0][0][0][0]``, one x, y row per head). The count to
meet is the number of annotated heads, which is stricter than the eval set's rough counts.

Why a second set: the eval set's held-out half has no scene of 50 people or more (its one such scene, the
dense crowd, fell in the tuning half), so issue 14's "including scenes of ≥ 50 people" could not be
measured on held-out data. Every picture was held out until the first look (2026-12-05); like the
occupation scenes, what has been looked at is tuning material since. The figures, the sets used and what
was tried on them after that are in docs/detection.md.

Each picture is judged as the eval judges a still (detect/evaluation/judge.py): the crowd rule's count
after the tracker, with the person model's one pass and with the tiled pass as the service runs it
(``detectors.person.tiles_above_persons``). Scored as issue 14 scores a crowd: within ±25 % of the count.
Reading ``.mat`` files needs scipy (installed with scikit-learn, an Ultralytics extra here); it is
imported only by this script.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

from detect.evaluation.dataset import EvalItem, scene_of
from detect.evaluation.judge import judge
from detect.evaluation.observe import observe
from detect.port import Detector
from detect.tiling import TiledDetector

WITHIN = 0.25
DENSE = 50


class Row(NamedTuple):
    file: str
    heads: int
    one: int
    tiled: int


def heads(mat: Path) -> int:
    from scipy.io import loadmat  # type: ignore[import-untyped]

    points = loadmat(str(mat))["image_info"][0][0][0][0][0]
    return len(points)


def pictures(root: Path) -> list[tuple[Path, int]]:
    """(picture, annotated heads) for every picture under ``root`` that has its ground truth."""
    found: list[tuple[Path, int]] = []
    for image in sorted(root.rglob("images/*.jpg")):
        mat = image.parent.parent / "ground-truth" / f"GT_{image.stem}.mat"
        if mat.is_file():
            found.append((image, heads(mat)))
    return found


def _count(root: Path, picture: Path, detector: Detector) -> int:
    relative = picture.relative_to(root).as_posix()
    item = EvalItem(
        file=relative, category="crowd", expect_kinds=None, rough_persons=None, scene=scene_of(relative)
    )
    return judge(observe(item, root, [detector])).persons


def _within(counted: int, truth: int) -> bool:
    return abs(counted - truth) <= WITHIN * truth


def _cell(counted: int, truth: int) -> str:
    mark = "" if _within(counted, truth) else " ✗"
    return f"{counted} ({(counted - truth) / truth:+.0%}){mark}"


def _summary(label: str, rows: list[Row]) -> str:
    if not rows:
        return f"| **{label}** | 0 | | |"
    one = sum(_within(r.one, r.heads) for r in rows)
    tiled = sum(_within(r.tiled, r.heads) for r in rows)
    one_error = sum(abs(r.one - r.heads) / r.heads for r in rows) / len(rows)
    tiled_error = sum(abs(r.tiled - r.heads) / r.heads for r in rows) / len(rows)
    return (
        f"| **{label}** | {len(rows)} | {one}/{len(rows)} within, mean abs error {one_error:.0%} "
        f"| **{tiled}/{len(rows)} within, mean abs error {tiled_error:.0%}** |"
    )


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m bench.annotated_crowds DIR [DIR ...]", file=sys.stderr)
        return 2
    from detect.backends.factory import model_dirs
    from detect.backends.ultralytics import UltralyticsDetector
    from detect.registry import resolve_person_model
    from models.config.detectors import PersonDetectorConfig

    plain = UltralyticsDetector.from_resolved(resolve_person_model(None, model_dirs()))
    threshold = PersonDetectorConfig().tiles_above_persons or 1
    tiled = TiledDetector(plain, min_persons=threshold)
    rows: list[Row] = []
    for name in argv:
        root = Path(name)
        found = pictures(root)
        if not found:
            print(f"{root}: no images/*.jpg with ground-truth/GT_*.mat under it", file=sys.stderr)
            return 2
        for picture, truth in found:
            if truth == 0:
                continue
            label = f"{root.name}/{picture.relative_to(root).as_posix()}"
            rows.append(Row(label, truth, _count(root, picture, plain), _count(root, picture, tiled)))
            print(f"{label}: {truth} heads, one pass {rows[-1].one}, tiled {rows[-1].tiled}", file=sys.stderr)
    print(f"| picture | heads | one pass (error) | tiled ≥ {threshold} as served (error) |")
    print("|---|---|---|---|")
    for r in sorted(rows, key=lambda r: -r.heads):
        print(f"| {r.file} | {r.heads} | {_cell(r.one, r.heads)} | {_cell(r.tiled, r.heads)} |")
    print(_summary(f"≥ {DENSE} heads", [r for r in rows if r.heads >= DENSE]))
    print(_summary(f"10–{DENSE - 1} heads", [r for r in rows if 10 <= r.heads < DENSE]))
    print(_summary("under 10 heads (not a crowd by issue 14)", [r for r in rows if r.heads < 10]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
