"""Camera-verified closure: clear for the window → verify; the rule fires again → reopen with evidence."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from models.incidents import Sighting
from models.records import EventKind
from router.verification import Verdict, decide

RESOLVED = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def sighting(minutes: float, ended: float | None = None, evidence: tuple[str, ...] = ("ev1",)) -> Sighting:
    end = None if ended is None else RESOLVED + timedelta(minutes=ended)
    return Sighting(uuid.uuid4(), RESOLVED + timedelta(minutes=minutes), end, evidence)


@pytest.mark.parametrize(
    ("kind", "now_min", "sightings", "verdict"),
    [
        (EventKind.OCCUPATION, 5, [], Verdict.WAIT),
        (EventKind.OCCUPATION, 15, [], Verdict.VERIFY),
        (EventKind.CROWD, 10, [], Verdict.VERIFY),
        (EventKind.CROWD, 9.9, [], Verdict.WAIT),
        (EventKind.OCCUPATION, 6, [sighting(4)], Verdict.REOPEN),
        (EventKind.OCCUPATION, 30, [sighting(-3, ended=2)], Verdict.REOPEN),  # lasted past resolution
        (EventKind.OCCUPATION, 30, [sighting(-3, ended=-1)], Verdict.VERIFY),  # ended before it
        (EventKind.OCCUPATION, 30, [sighting(-3)], Verdict.VERIFY),  # end unknown: not held against it
        (EventKind.OCCUPATION, 3, [sighting(4)], Verdict.WAIT),  # a sighting from the future is ignored
        (EventKind.FIRE, 60, [], Verdict.NOT_CAMERA_VERIFIED),
    ],
)
def test_decide(kind: EventKind, now_min: float, sightings: list[Sighting], verdict: Verdict) -> None:
    assert decide(kind, RESOLVED, RESOLVED + timedelta(minutes=now_min), sightings).verdict is verdict


def test_reopen_carries_the_evidence_and_wait_says_when() -> None:
    reopen = decide(
        EventKind.CROWD, RESOLVED, RESOLVED + timedelta(minutes=8), [sighting(2, evidence=("a", "b"))]
    )
    assert reopen.evidence_ids == ("a", "b") and "2 min after resolution" in reopen.note
    wait = decide(EventKind.CROWD, RESOLVED, RESOLVED + timedelta(minutes=1), [])
    assert wait.recheck_at == RESOLVED + timedelta(minutes=10)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(EventKind.CROWD, RESOLVED.replace(tzinfo=None), RESOLVED, [])
