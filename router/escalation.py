"""Who a missed deadline goes to: the next tier up the duty chain.

Pure: the caller passes the incident as it stands, the roster and the instant the timer fired, and
applies the returned Escalation in one transaction (router/centre/escalator.py via store.timers.fire_due).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from models.records import Assignee, IncidentState, Role, Severity
from router.deadlines import DEFAULT_POLICY, DeadlinePolicy, TimerKind, is_pending
from router.duty import Roster, fallback_chain


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
    duty, …) and skip the current assignee and absent workers (whose covers stand in).
    """
    if not is_pending(kind, standing.state):
        return None
    chain = fallback_chain(standing.unit_code)
    roles = [role for role, _ in chain]
    start = roles.index(standing.assignee_role) + 1 if standing.assignee_role in roles else 0
    skip = {*absent, *([standing.assignee_id] if standing.assignee_id else [])}
    tried: list[tuple[Role, str, bool]] = []
    for role, code in chain[start:]:
        present = roster.present(role, code, at, skip)
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
