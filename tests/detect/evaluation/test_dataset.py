"""The eval set's loading and its scene-level tuning/held-out split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from detect.evaluation.dataset import EvalDataError, Split, load_items, scene_of, select, split_of
from tests.conftest import SHARED

SHARED_EVAL = SHARED / "data" / "eval"


@pytest.mark.parametrize(
    ("file", "scene"),
    [
        ("crowd/atharva__plaza_topdown_cctv.mp4", "atharva__plaza_topdown_cctv"),
        ("crowd/atharva__plaza_topdown_cctv__frame00170.jpg", "atharva__plaza_topdown_cctv"),
        ("fire/fire8__garage_flashfire__img_103_5774ed31.jpg", "fire8__garage_flashfire"),
        ("fire_negative/coco__000000397681.jpg", "coco__000000397681"),
    ],
)
def test_frames_of_one_clip_share_a_scene(file: str, scene: str) -> None:
    assert scene_of(file) == scene


def test_public_set_splits_by_scene_into_balanced_halves() -> None:
    items = load_items(SHARED_EVAL)
    halves = split_of(items)
    tune, holdout = select(items, Split.TUNE), select(items, Split.HOLDOUT)
    assert len(tune) + len(holdout) == len(items) == len(select(items, Split.ALL))
    assert not {i.scene for i in tune} & {i.scene for i in holdout}
    for half in (tune, holdout):
        assert sum(bool(i.expect_kinds) for i in half) >= 10  # fire/smoke positives
        assert sum(i.expect_kinds == frozenset() for i in half) >= 3  # labelled negatives
        assert sum((i.rough_persons or 0) >= 10 for i in half) >= 3  # crowds
    # Deterministic and independent of the order of items.json.
    assert split_of(list(reversed(items))) == halves


def test_problems_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "items.json").write_text(
        json.dumps(
            [
                {"file": "fire/missing.jpg", "expect_kinds": ["fire"]},
                {"file": "notes.txt"},
                {"file": "a.jpg", "expect_kinds": ["flood"]},
            ]
        )
    )
    (tmp_path / "a.jpg").write_bytes(b"")
    with pytest.raises(EvalDataError) as caught:
        load_items(tmp_path)
    problems = caught.value.problems
    assert len(problems) == 3
    assert str(tmp_path / "fire/missing.jpg") in problems[0]
    assert "notes.txt" in problems[1] and "flood" in problems[2]
    with pytest.raises(EvalDataError, match=r"items\.json: no such file"):
        load_items(tmp_path / "nowhere")
