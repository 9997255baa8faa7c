from __future__ import annotations

import pytest

from router.imports import ImportRejected, Problem


@pytest.mark.parametrize(
    ("problem", "text"),
    [
        (
            Problem("features[3].properties.code", "must be 15 digits, got 14 ('37990100100100')"),
            "features[3].properties.code: must be 15 digits, got 14 ('37990100100100')",
        ),
        (
            Problem("line 17, start", "time '25:00': hours must be 00–23"),
            "line 17, start: time '25:00': hours must be 00–23",
        ),
    ],
)
def test_problem_reads_as_place_then_reason(problem: Problem, text: str) -> None:
    assert str(problem) == text


def test_rejection_lists_every_problem() -> None:
    rejected = ImportRejected([Problem("line 2, role", "bad"), Problem("line 3, end", "worse")])
    assert str(rejected) == "2 problem(s):\nline 2, role: bad\nline 3, end: worse"
    assert len(rejected.problems) == 2


def test_rejection_without_problems_is_a_bug() -> None:
    with pytest.raises(ValueError, match="at least one problem"):
        ImportRejected([])
