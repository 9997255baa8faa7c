from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from models.records import OPEN_STATES
from models.records import IncidentState as S
from router.lifecycle import TRANSITIONS, Action, IllegalTransition, allowed_actions, next_state, transition

#: report → file → dispatch → accept → on the way → handle → feedback → verify → close → evaluate
HAPPY_PATH = [
    (S.REPORTED, Action.FILE, S.DISPATCHED),
    (S.DISPATCHED, Action.ACCEPT, S.ACCEPTED),
    (S.ACCEPTED, Action.DEPART, S.EN_ROUTE),
    (S.EN_ROUTE, Action.START, S.IN_PROGRESS),
    (S.IN_PROGRESS, Action.RESOLVE, S.RESOLVED),
    (S.RESOLVED, Action.VERIFY, S.VERIFIED),
    (S.VERIFIED, Action.CLOSE, S.CLOSED),
    (S.CLOSED, Action.EVALUATE, S.CLOSED),
]
SIDE_ROADS = [
    (S.REPORTED, Action.REJECT, S.REJECTED),
    (S.ACCEPTED, Action.START, S.IN_PROGRESS),
    (S.DISPATCHED, Action.RETURN_, S.RETURNED),
    (S.ACCEPTED, Action.RETURN_, S.RETURNED),
    (S.RETURNED, Action.DISPATCH, S.DISPATCHED),
    (S.RETURNED, Action.REJECT, S.REJECTED),
    (S.RESOLVED, Action.REOPEN, S.REOPENED),
    (S.REOPENED, Action.DISPATCH, S.DISPATCHED),
    (S.CLOSED, Action.REOPEN, S.REOPENED),
    (S.REJECTED, Action.REOPEN, S.REOPENED),
]
#: Handing a case on: reassigning starts it again from dispatch; escalating keeps the step it reached.
HANDOVERS = [
    *[
        (state, Action.REASSIGN, S.DISPATCHED)
        for state in (S.DISPATCHED, S.ACCEPTED, S.EN_ROUTE, S.IN_PROGRESS)
    ],
    *[
        (state, Action.ESCALATE, state)
        for state in (S.DISPATCHED, S.ACCEPTED, S.EN_ROUTE, S.IN_PROGRESS, S.REOPENED)
    ],
]


@pytest.mark.parametrize(("state", "action", "after"), HAPPY_PATH + SIDE_ROADS + HANDOVERS)
def test_allowed_transitions(state: S, action: Action, after: S) -> None:
    assert next_state(state, action) is after


def test_the_table_holds_exactly_these_rows() -> None:
    expected = {(state, action): after for state, action, after in HAPPY_PATH + SIDE_ROADS + HANDOVERS}
    assert expected == TRANSITIONS


@pytest.mark.parametrize(
    ("state", "action", "message"),
    [
        (S.REPORTED, Action.ACCEPT, "cannot accept an incident that is reported (allowed: file, reject)"),
        (S.CLOSED, Action.CLOSE, "cannot close an incident that is closed (allowed: evaluate, reopen)"),
        (
            S.IN_PROGRESS,
            Action.RETURN_,
            "cannot return an incident that is in_progress (allowed: resolve, reassign, escalate)",
        ),
        (S.VERIFIED, Action.REOPEN, "cannot reopen an incident that is verified (allowed: close)"),
    ],
)
def test_illegal_transitions_name_state_and_action(state: S, action: Action, message: str) -> None:
    with pytest.raises(IllegalTransition) as caught:
        next_state(state, action)
    assert str(caught.value) == message
    assert (caught.value.state, caught.value.action) == (state, action)


def test_every_state_is_reachable_and_every_open_state_can_move() -> None:
    reachable = {after for after in TRANSITIONS.values()} | {S.REPORTED}
    assert reachable == set(S)
    assert all(allowed_actions(state) for state in OPEN_STATES)


def test_return_action_is_spelled_return() -> None:
    assert Action("return") is Action.RETURN_


def test_transition_builds_the_log_entry() -> None:
    incident = uuid.uuid4()
    instant = datetime(2026, 11, 23, 2, 5, tzinfo=UTC)
    entry = transition(
        incident,
        S.DISPATCHED,
        Action.RETURN_,
        "w001",
        instant,
        "位置不在本网格",
        ("ev-1",),
        reason="not_my_grid",
    )
    assert (entry.incident_id, entry.from_state, entry.to_state) == (incident, S.DISPATCHED, S.RETURNED)
    assert (entry.action, entry.actor, entry.at, entry.note, entry.attachments, entry.reason) == (
        Action.RETURN_,
        "w001",
        instant,
        "位置不在本网格",
        ("ev-1",),
        "not_my_grid",
    )
    with pytest.raises(IllegalTransition):
        transition(incident, S.CLOSED, Action.ACCEPT, "w001", instant)
    with pytest.raises(ValueError, match="timezone-aware"):
        transition(incident, S.REPORTED, Action.FILE, "w014", datetime(2026, 11, 23, 10, 0))
