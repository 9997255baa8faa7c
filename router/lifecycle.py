"""The incident state machine: every allowed move is one row of TRANSITIONS, nothing else is legal.

The loop counties are audited on (数字城管): report → file (立案) → dispatch (派遣) → accept (接单) →
on the way (出发) → handle (处置) → feedback (办结) → verify (核查) → close (结案) → evaluate (评价). A
detection above its kind's confidence is filed and dispatched as it opens; one below waits as
``reported`` for a reviewer.
Side roads: a reviewer rejects a false alarm (不予立案); an assignee returns a case that lacks elements
(退回: wrong place, no photo, not their grid) and it is dispatched again; a verifier who finds the problem
still there reopens it (返工), as does a commander seeing a closed or rejected case recur. Reassigning and
escalating hand the case to someone else without changing its step; evaluating a closed case rates it.
Who may take which step is router/permissions.py.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from models.incidents import LogEntry
from models.records import IncidentState as S


class Action(StrEnum):
    FILE = "file"
    DISPATCH = "dispatch"
    REASSIGN = "reassign"
    ESCALATE = "escalate"
    ACCEPT = "accept"
    DEPART = "depart"
    START = "start"
    RESOLVE = "resolve"
    VERIFY = "verify"
    CLOSE = "close"
    EVALUATE = "evaluate"
    RETURN_ = "return"
    REJECT = "reject"
    REOPEN = "reopen"


#: States in which the case is with someone who has not finished it: it can be handed to another person.
_HELD = (S.DISPATCHED, S.ACCEPTED, S.EN_ROUTE, S.IN_PROGRESS)

TRANSITIONS: dict[tuple[S, Action], S] = {
    (S.REPORTED, Action.FILE): S.DISPATCHED,
    (S.REPORTED, Action.REJECT): S.REJECTED,
    (S.DISPATCHED, Action.ACCEPT): S.ACCEPTED,
    (S.DISPATCHED, Action.RETURN_): S.RETURNED,
    (S.ACCEPTED, Action.DEPART): S.EN_ROUTE,
    (S.ACCEPTED, Action.START): S.IN_PROGRESS,
    (S.ACCEPTED, Action.RETURN_): S.RETURNED,
    (S.EN_ROUTE, Action.START): S.IN_PROGRESS,
    (S.IN_PROGRESS, Action.RESOLVE): S.RESOLVED,
    (S.RESOLVED, Action.VERIFY): S.VERIFIED,
    (S.RESOLVED, Action.REOPEN): S.REOPENED,
    (S.VERIFIED, Action.CLOSE): S.CLOSED,
    (S.CLOSED, Action.EVALUATE): S.CLOSED,
    (S.CLOSED, Action.REOPEN): S.REOPENED,
    (S.REJECTED, Action.REOPEN): S.REOPENED,
    (S.RETURNED, Action.DISPATCH): S.DISPATCHED,
    (S.RETURNED, Action.REJECT): S.REJECTED,
    (S.REOPENED, Action.DISPATCH): S.DISPATCHED,
    # A new person gets the case from its first step; the deadlines start again (router/centre/casework.py).
    **{(state, Action.REASSIGN): S.DISPATCHED for state in _HELD},
    # Up the duty chain, keeping the step reached; the step's deadline starts again for the new person.
    **{(state, Action.ESCALATE): state for state in (*_HELD, S.REOPENED)},
}

#: The reasons a case may be sent back with (退回) or refused (不予立案); the step needs one of them.
REASONS: dict[Action, dict[str, str]] = {
    Action.RETURN_: {
        "wrong_place": "位置不准 the place is wrong",
        "not_my_grid": "非本网格 not this grid",
        "not_my_duty": "非本人职责 another department's case",
        "missing_elements": "要素不全 place, time, category or evidence missing",
        "cannot_handle": "无法处置 cannot be handled at this level",
    },
    Action.REJECT: {
        "false_alarm": "误报 nothing there",
        "duplicate": "重复 already reported",
        "not_a_case": "不属于受理范围 not a case for the grid",
    },
}

#: Steps that hand the case to a person and start its deadlines again (every dispatch, reassign, reopen).
ARMS_DEADLINES = frozenset({Action.FILE, Action.DISPATCH, Action.REASSIGN, Action.ESCALATE, Action.REOPEN})
#: Steps that name who gets the case (the body's assignee, or the duty chain for escalation).
HANDS_OVER = frozenset({Action.REASSIGN, Action.ESCALATE})


class IllegalTransition(ValueError):
    def __init__(self, state: S, action: Action) -> None:
        allowed = ", ".join(a.value for a in allowed_actions(state)) or "none"
        super().__init__(f"cannot {action.value} an incident that is {state.value} (allowed: {allowed})")
        self.state = state
        self.action = action


def allowed_actions(state: S) -> tuple[Action, ...]:
    return tuple(action for (source, action) in TRANSITIONS if source is state)


def next_state(state: S, action: Action) -> S:
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise IllegalTransition(state, action) from None


def transition(
    incident_id: uuid.UUID,
    state: S,
    action: Action,
    actor: str,
    at: datetime,
    note: str = "",
    attachments: tuple[str, ...] = (),
    *,
    reason: str | None = None,
    rating: int | None = None,
) -> LogEntry:
    """The log entry for applying `action`; raises IllegalTransition when the state machine forbids it.

    The store applies it only if the incident is still in `state` (store.incidents.apply).
    """
    if at.tzinfo is None:
        raise ValueError("log entries need a timezone-aware instant")
    return LogEntry(
        incident_id,
        state,
        next_state(state, action),
        action.value,
        actor,
        at,
        note,
        attachments,
        reason=reason,
        rating=rating,
    )
