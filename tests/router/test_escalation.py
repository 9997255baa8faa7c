"""Escalation up the duty chain against the demo roster, on a hand-moved clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from models.clock import ManualClock
from models.records import IncidentState, Role, Severity
from router.deadlines import DEFAULT_POLICY, TimerKind, is_pending
from router.duty import Roster
from router.escalation import Standing, escalate
from tests.router.demo_data import demo_shifts

SH = ZoneInfo("Asia/Shanghai")
GRID_A = "379901001001001"
MON_10 = datetime(2026, 11, 23, 10, 0, tzinfo=SH)


@pytest.fixture(scope="module")
def roster() -> Roster:
    return Roster(demo_shifts())


def standing(
    assignee: str | None, role: Role | None, state: IncidentState = IncidentState.DISPATCHED
) -> Standing:
    return Standing(state, Severity.MEDIUM, GRID_A, assignee, role)


def test_missed_accept_walks_the_chain_upwards_on_a_moving_clock(roster: Roster) -> None:
    """w001 misses; each escalation re-arms the same window for the next tier until the county."""
    clock = ManualClock(MON_10)
    who, role = "w001", Role.GRID_WORKER
    seen = []
    due = DEFAULT_POLICY.deadlines(Severity.MEDIUM, clock.now())[TimerKind.ACCEPT]
    for _ in range(5):
        clock.set(due)
        step = escalate(standing(who, role), TimerKind.ACCEPT, roster, clock.now())
        assert step is not None
        if step.to is None:
            assert step.next_due is None and "nobody higher" in step.note
            break
        assert step.next_due == clock.now() + timedelta(minutes=30)
        seen.append((step.to.worker_id, step.to.role))
        who, role, due = step.to.worker_id, step.to.role, step.next_due
    assert seen == [
        ("w008", Role.GRID_LEADER),
        ("w010", Role.COMMUNITY_DUTY),
        ("w012", Role.TOWNSHIP_DUTY),
        ("w014", Role.COUNTY_COMMAND),
    ]
    assert clock.now() == MON_10 + timedelta(minutes=150)


def test_unassigned_incident_goes_to_the_first_on_duty(roster: Roster) -> None:
    step = escalate(standing(None, None), TimerKind.ACCEPT, roster, MON_10)
    assert step is not None and step.to is not None and step.to.worker_id == "w001"


def test_overnight_worker_escalates_to_the_24h_leader(roster: Roster) -> None:
    night = datetime(2026, 11, 24, 2, 0, tzinfo=SH)
    step = escalate(standing("w002", Role.GRID_WORKER), TimerKind.ARRIVE, roster, night)
    assert step is not None and step.to is not None and step.to.worker_id == "w008"


def test_absent_tier_is_skipped(roster: Roster) -> None:
    step = escalate(standing("w001", Role.GRID_WORKER), TimerKind.ACCEPT, roster, MON_10, absent={"w008"})
    assert step is not None and step.to is not None and step.to.worker_id == "w010"
    assert [found for _, _, found in step.tried] == [False, True]


@pytest.mark.parametrize(
    ("kind", "state", "pending"),
    [
        (TimerKind.ACCEPT, IncidentState.DISPATCHED, True),
        (TimerKind.ACCEPT, IncidentState.ACCEPTED, False),
        (TimerKind.ARRIVE, IncidentState.ACCEPTED, True),
        (TimerKind.ARRIVE, IncidentState.IN_PROGRESS, False),
        (TimerKind.RESOLVE, IncidentState.IN_PROGRESS, True),
        (TimerKind.RESOLVE, IncidentState.RESOLVED, False),
        (TimerKind.RESOLVE, IncidentState.CLOSED, False),
    ],
)
def test_a_step_already_taken_does_not_escalate(
    roster: Roster, kind: TimerKind, state: IncidentState, pending: bool
) -> None:
    assert is_pending(kind, state) is pending
    step = escalate(standing("w001", Role.GRID_WORKER, state), kind, roster, MON_10)
    assert (step is not None) is pending
