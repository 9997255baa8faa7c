"""Deadlines per step: how long an incident may wait to be accepted, reached and resolved, by severity.

One DeadlinePolicy serves both the router (the deadlines an incident opens with) and the escalator (the
window a re-armed timer gets), so the two cannot disagree.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from models.records import IncidentState, Severity


class TimerKind(enum.StrEnum):
    ACCEPT = "accept"
    ARRIVE = "arrive"
    RESOLVE = "resolve"


#: The states in which a timer of each kind still means something; elsewhere it fires as stale. The
#: database's cancel trigger calls gridwatch_timer_pending (migration 0006), which must say the same:
#: tests/models/store/test_policy_functions.py compares the two for every kind and state.
_PENDING: Mapping[TimerKind, frozenset[IncidentState]] = MappingProxyType(
    {
        # A reopened case waits to be dispatched again: nobody has accepted the rework yet.
        TimerKind.ACCEPT: frozenset(
            {IncidentState.REPORTED, IncidentState.DISPATCHED, IncidentState.REOPENED}
        ),
        TimerKind.ARRIVE: frozenset(
            {
                IncidentState.REPORTED,
                IncidentState.DISPATCHED,
                IncidentState.ACCEPTED,
                IncidentState.EN_ROUTE,
                IncidentState.REOPENED,
            }
        ),
        TimerKind.RESOLVE: frozenset(
            {
                IncidentState.REPORTED,
                IncidentState.DISPATCHED,
                IncidentState.ACCEPTED,
                IncidentState.EN_ROUTE,
                IncidentState.IN_PROGRESS,
                IncidentState.REOPENED,
            }
        ),
    }
)


@dataclass(frozen=True, slots=True)
class StepWindows:
    accept: timedelta
    arrive: timedelta
    resolve: timedelta

    def of(self, kind: TimerKind) -> timedelta:
        windows = {
            TimerKind.ACCEPT: self.accept,
            TimerKind.ARRIVE: self.arrive,
            TimerKind.RESOLVE: self.resolve,
        }
        return windows[kind]


# Accept windows: how long the assignee has to accept before the incident escalates. Arrive and resolve
# follow the county's 12345-style targets: a fire needs someone there in minutes, a stall on the pavement
# within the day.
DEFAULT_WINDOWS: Mapping[Severity, StepWindows] = MappingProxyType(
    {
        Severity.CRITICAL: StepWindows(timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=2)),
        Severity.HIGH: StepWindows(timedelta(minutes=10), timedelta(minutes=30), timedelta(hours=4)),
        Severity.MEDIUM: StepWindows(timedelta(minutes=30), timedelta(hours=2), timedelta(hours=24)),
        Severity.LOW: StepWindows(timedelta(hours=2), timedelta(hours=8), timedelta(hours=72)),
    }
)


class DeadlinePolicy:
    def __init__(self, windows: Mapping[Severity, StepWindows] = DEFAULT_WINDOWS) -> None:
        missing = [s.name for s in Severity if s not in windows]
        if missing:
            raise ValueError(f"deadline windows missing for: {', '.join(missing)}")
        for severity, w in windows.items():
            if not timedelta(0) < w.accept <= w.arrive <= w.resolve:
                raise ValueError(f"{severity.name}: windows must satisfy 0 < accept ≤ arrive ≤ resolve")
        self.windows: Mapping[Severity, StepWindows] = MappingProxyType(dict(windows))

    def deadlines(
        self, severity: Severity, opened_at: datetime, accept_by: datetime | None = None
    ) -> dict[TimerKind, datetime]:
        """Every step's deadline for an incident opened at `opened_at`; an explicit accept_by wins."""
        if opened_at.tzinfo is None:
            raise ValueError("deadlines need a timezone-aware instant")
        w = self.windows[severity]
        return {
            TimerKind.ACCEPT: accept_by or opened_at + w.accept,
            TimerKind.ARRIVE: opened_at + w.arrive,
            TimerKind.RESOLVE: opened_at + w.resolve,
        }

    def timer_deadlines(
        self, severity: Severity, opened_at: datetime, accept_by: datetime | None = None
    ) -> dict[str, datetime]:
        """deadlines() keyed by the timers table's kind column."""
        return {kind.value: due for kind, due in self.deadlines(severity, opened_at, accept_by).items()}

    def rearm(self, severity: Severity, kind: TimerKind, at: datetime) -> datetime:
        """The new person gets the same step window, counted from the escalation."""
        return at + self.windows[severity].of(kind)


DEFAULT_POLICY = DeadlinePolicy()


def is_pending(kind: TimerKind, state: IncidentState) -> bool:
    """Whether a timer of `kind` still guards a step the incident has not taken yet."""
    return state in _PENDING[kind]
