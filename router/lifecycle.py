"""The incident state machine: every allowed move is one row of TRANSITIONS, nothing else is legal.

reported → dispatched → accepted → in_progress → resolved → verified → closed is the happy path.
Side roads: the command centre rejects a false alarm; an assignee returns a case that lacks elements
(wrong place, no photo, not their grid) and it is dispatched again once completed; a verifier who
finds the problem still there reopens it, as does anyone seeing a closed or rejected case recur.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from models.incidents import LogEntry
from models.records import IncidentState as S


class Action(StrEnum):
    DISPATCH = "dispatch"
    ACCEPT = "accept"
    START = "start"
    RESOLVE = "resolve"
    VERIFY = "verify"
    CLOSE = "close"
    RETURN_ = "return"
    REJECT = "reject"
    REOPEN = "reopen"


TRANSITIONS: dict[tuple[S, Action], S] = {
    (S.REPORTED, Action.DISPATCH): S.DISPATCHED,
    (S.REPORTED, Action.REJECT): S.REJECTED,
    # Escalation re-dispatches to the next person in the duty chain without leaving the state.
    (S.DISPATCHED, Action.DISPATCH): S.DISPATCHED,
    (S.DISPATCHED, Action.ACCEPT): S.ACCEPTED,
    (S.DISPATCHED, Action.RETURN_): S.RETURNED,
    (S.ACCEPTED, Action.START): S.IN_PROGRESS,
    (S.ACCEPTED, Action.RETURN_): S.RETURNED,
    (S.IN_PROGRESS, Action.RESOLVE): S.RESOLVED,
    (S.RESOLVED, Action.VERIFY): S.VERIFIED,
    (S.RESOLVED, Action.REOPEN): S.REOPENED,
    (S.VERIFIED, Action.CLOSE): S.CLOSED,
    (S.RETURNED, Action.DISPATCH): S.DISPATCHED,
    (S.RETURNED, Action.REJECT): S.REJECTED,
    (S.REOPENED, Action.DISPATCH): S.DISPATCHED,
    (S.CLOSED, Action.REOPEN): S.REOPENED,
    (S.REJECTED, Action.REOPEN): S.REOPENED,
}


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
) -> LogEntry:
    """The log entry for applying `action`; raises IllegalTransition when the state machine forbids it.

    The store applies it only if the incident is still in `state` (store.incidents.apply).
    """
    if at.tzinfo is None:
        raise ValueError("log entries need a timezone-aware instant")
    return LogEntry(incident_id, state, next_state(state, action), action.value, actor, at, note, attachments)
