"""Step deadlines by severity: what an incident opens with, what a re-armed timer gets, what is refused."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from models.records import Severity
from router.deadlines import DEFAULT_POLICY, DeadlinePolicy, StepWindows, TimerKind

MON_10 = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.mark.parametrize(
    ("severity", "accept", "arrive", "resolve"),
    [
        (Severity.CRITICAL, timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=2)),
        (Severity.HIGH, timedelta(minutes=10), timedelta(minutes=30), timedelta(hours=4)),
        (Severity.MEDIUM, timedelta(minutes=30), timedelta(hours=2), timedelta(hours=24)),
        (Severity.LOW, timedelta(hours=2), timedelta(hours=8), timedelta(hours=72)),
    ],
)
def test_deadlines_by_severity(
    severity: Severity, accept: timedelta, arrive: timedelta, resolve: timedelta
) -> None:
    assert DEFAULT_POLICY.deadlines(severity, MON_10) == {
        TimerKind.ACCEPT: MON_10 + accept,
        TimerKind.ARRIVE: MON_10 + arrive,
        TimerKind.RESOLVE: MON_10 + resolve,
    }


def test_explicit_accept_by_wins_and_keys_match_the_timers_table() -> None:
    accept_by = MON_10 + timedelta(minutes=3)
    deadlines = DEFAULT_POLICY.timer_deadlines(Severity.LOW, MON_10, accept_by)
    assert deadlines["accept"] == accept_by and set(deadlines) == {"accept", "arrive", "resolve"}


def test_a_rearmed_timer_gets_the_same_step_window_from_the_escalation() -> None:
    escalated_at = MON_10 + timedelta(minutes=47)
    assert DEFAULT_POLICY.rearm(Severity.HIGH, TimerKind.ARRIVE, escalated_at) == escalated_at + timedelta(
        minutes=30
    )


def test_policy_rejects_incomplete_or_disordered_windows() -> None:
    one = StepWindows(timedelta(minutes=5), timedelta(minutes=1), timedelta(hours=1))
    with pytest.raises(ValueError, match="accept ≤ arrive"):
        DeadlinePolicy(dict.fromkeys(Severity, one))
    with pytest.raises(ValueError, match="missing"):
        DeadlinePolicy({Severity.LOW: one})
