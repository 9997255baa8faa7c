"""Scores are plain arithmetic over (item, judgement) pairs."""

from __future__ import annotations

import pytest

from detect.evaluation.dataset import EvalItem
from detect.evaluation.judge import Judgement
from detect.evaluation.score import score


def item(
    file: str, kinds: set[str] | None = None, rough: int | None = None, category: str = "fire"
) -> EvalItem:
    return EvalItem(file, category, None if kinds is None else frozenset(kinds), rough, file)


def judged(file: str, kinds: tuple[str, ...] = (), persons: int = 0, starts: int = 1) -> Judgement:
    return Judgement(file, kinds, persons, {k: starts for k in kinds})


def test_precision_recall_counts_and_false_alarm_rate() -> None:
    items = [
        item("a.jpg", {"fire"}),
        item("b.jpg", {"smoke"}),
        item("c.jpg", {"fire"}),
        item("d.jpg", set()),
        item("e.jpg", set()),
        item("crowd.jpg", rough=20, category="crowd"),
        item("small.jpg", rough=8, category="crowd"),
        item("street.mp4", category="crowd"),
        item("burning.mp4", category="fire"),
    ]
    judgements = [
        judged("a.jpg", ("fire",)),
        judged("b.jpg", ("fire",)),  # smoke expected, fire raised: counts for "fire or smoke"
        judged("c.jpg"),
        judged("d.jpg", ("smoke",)),
        judged("e.jpg"),
        judged("crowd.jpg", ("crowd", "smoke"), persons=11),
        judged("small.jpg", persons=2),
        judged("street.mp4", ("smoke",), starts=2),
        judged("burning.mp4", ("fire",), starts=5),
    ]
    durations = [0, 0, 0, 0, 0, 0, 0, 1800.0, 60.0]
    scores = score(items, judgements, durations)
    both = scores.fire_or_smoke
    assert (both.true_pos, both.false_pos, both.false_neg, both.true_neg) == (2, 1, 1, 1)
    assert both.precision == pytest.approx(2 / 3) and both.recall == pytest.approx(2 / 3)
    assert scores.per_kind["smoke"].recall == 0.0
    assert [(c.file, c.counted, c.ok) for c in scores.crowds] == [("crowd.jpg", 11, False)]  # -45 %
    assert scores.false_alarms_per_hour == pytest.approx(4.0)  # 2 starts in half an hour; fire video excluded
    assert scores.unlabelled_still_alarms == ("crowd.jpg",)
    assert not scores.meets_acceptance()


@pytest.mark.parametrize(("counted", "ok"), [(15, True), (14, False), (25, True), (26, False), (20, True)])
def test_a_crowd_is_counted_right_within_a_quarter_either_way(counted: int, ok: bool) -> None:
    """Issue 14's acceptance: ±25 % of the rough count; an overcount fails like an undercount."""
    scores = score(
        [item("crowd.jpg", rough=20, category="crowd")], [judged("crowd.jpg", persons=counted)], [0]
    )
    assert [c.ok for c in scores.crowds] == [ok]
