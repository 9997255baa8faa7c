"""Deadlines per step and who a missed deadline goes to: the next tier up the duty chain.

Pure: the caller passes the incident as it stands, the roster and the instant the timer fired, and
applies the returned Escalation in one transaction (api/escalator.py via Store.fire_due_timers).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from models.records import Assignee, IncidentState, Role, Severity
from router.duty import Roster, fallback_chain


class TimerKind(enum.StrEnum):
    ACCEPT = "accept"
    ARRIVE = "arrive"
    RESOLVE = "resolve"


#: The states in which a timer of each kind still means something; elsewhere it fires as stale.
_PENDING: Mapping[TimerKind, frozenset[IncidentState]] = MappingProxyType(
    {
        TimerKind.ACCEPT: frozenset({IncidentState.REPORTED, IncidentState.DISPATCHED}),
        TimerKind.ARRIVE: frozenset(
            {IncidentState.REPORTED, IncidentState.DISPATCHED, IncidentState.ACCEPTED}
        ),
        TimerKind.RESOLVE: frozenset(
            {
                IncidentState.REPORTED,
                IncidentState.DISPATCHED,
                IncidentState.ACCEPTED,
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


# Accept windows match router.pipeline.DEFAULT_ACCEPT_WINDOWS; arrive and resolve follow the county's
# 12345-style targets: a fire needs someone there in minutes, a stall on the pavement within the day.
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


@dataclass(frozen=True, slots=True)
class Standing:
    """What escalation needs to know about an incident at the moment its timer fires."""

    state: IncidentState
    severity: Severity
    unit_code: str
    assignee_id: str | None
    assignee_role: Role | None


@dataclass(frozen=True, slots=True)
class Escalation:
    kind: TimerKind
    #: None when nobody above the current assignee is on duty: the incident stays put, marked late.
    to: Assignee | None
    #: (role, unit code, found) for each tier tried above the current assignee.
    tried: tuple[tuple[Role, str, bool], ...]
    #: When the re-armed timer is due; None at the top of the chain (nobody further to escalate to).
    next_due: datetime | None
    note: str


def is_pending(kind: TimerKind, state: IncidentState) -> bool:
    """Whether a timer of `kind` still guards a step the incident has not taken yet."""
    return state in _PENDING[kind]


def escalate(
    standing: Standing,
    kind: TimerKind,
    roster: Roster,
    at: datetime,
    policy: DeadlinePolicy = DEFAULT_POLICY,
    absent: Collection[str] = (),
) -> Escalation | None:
    """The escalation for a `kind` timer that expired at `at`, or None if the step was already taken.

    The chain is the roster's fallback chain for the incident's unit; we start one tier above the
    current assignee's role (a grid worker's miss goes to the grid leader, a leader's to community
    duty, …) and skip the current assignee and absent workers.
    """
    if not is_pending(kind, standing.state):
        return None
    chain = fallback_chain(standing.unit_code)
    roles = [role for role, _ in chain]
    start = roles.index(standing.assignee_role) + 1 if standing.assignee_role in roles else 0
    skip = {*absent, *([standing.assignee_id] if standing.assignee_id else [])}
    tried: list[tuple[Role, str, bool]] = []
    for role, code in chain[start:]:
        present = [a for a in roster.on_duty(role, code, at) if a.worker_id not in skip]
        tried.append((role, code, bool(present)))
        if present:
            target = present[0]
            due = policy.rearm(standing.severity, kind, at)
            note = (
                f"{kind.value} deadline missed by {standing.assignee_id or 'nobody'}; "
                f"escalated to {target.name} ({target.worker_id}, {role.value} {code})"
            )
            return Escalation(kind, target, tuple(tried), due, note)
    note = f"{kind.value} deadline missed by {standing.assignee_id or 'nobody'}; nobody higher is on duty"
    return Escalation(kind, None, tuple(tried), None, note)
