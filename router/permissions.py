"""Who may take which step of a case: one table of post × action, crossed with the state machine.

A grid worker handles the cases dispatched to them; grid leaders and community duty file, dispatch,
reassign, verify, reject and evaluate; township and county command may also close, reopen and escalate
by hand; administrators configure the system and handle no case. Two rules the table cannot say: a grid
worker acts only on a case assigned to them, and whoever resolved a case never verifies it (nor closes
the verification of their own work by evaluating it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from models.records import IncidentState, Post
from router.lifecycle import TRANSITIONS, Action

_HANDLING = frozenset({Action.ACCEPT, Action.DEPART, Action.START, Action.RESOLVE, Action.RETURN_})
_REVIEWING = frozenset(
    {Action.FILE, Action.DISPATCH, Action.REASSIGN, Action.VERIFY, Action.REJECT, Action.EVALUATE}
)
_COMMANDING = _REVIEWING | {Action.CLOSE, Action.REOPEN, Action.ESCALATE}

#: What each post may do at all; the state machine says when.
POST_ACTIONS: Mapping[Post, frozenset[Action]] = MappingProxyType(
    {
        Post.GRID_WORKER: _HANDLING,
        Post.GRID_LEADER: _REVIEWING,
        Post.COMMUNITY: _REVIEWING,
        Post.TOWNSHIP: _COMMANDING,
        Post.COUNTY_COMMAND: _COMMANDING,
        Post.ADMIN: frozenset(),
    }
)


def allowed(post: Post, action: Action, state: IncidentState) -> bool:
    """The table: whether ``post`` may take ``action`` on a case in ``state``."""
    return action in POST_ACTIONS[post] and (state, action) in TRANSITIONS


def allowed_actions(post: Post, state: IncidentState) -> tuple[Action, ...]:
    """The steps ``post`` may take on a case in ``state``, in the state machine's order."""
    return tuple(
        action for (source, action) in TRANSITIONS if source is state and action in POST_ACTIONS[post]
    )


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: their post and, for a grid worker, their roster id."""

    name: str
    post: Post
    worker_id: str | None = None

    @property
    def ident(self) -> str:
        """How the incident log names them: the roster id of a worker, else the user name."""
        return self.worker_id or self.name


@dataclass(frozen=True, slots=True)
class Case:
    """What the rules beyond the table need to know about the case."""

    state: IncidentState
    assignee_id: str | None
    #: Who took the last resolve step (its log entry's actor), if any.
    resolved_by: str | None = None


@dataclass(frozen=True, slots=True)
class SystemActor:
    """The service itself acting on a case: only the camera verifying or reopening what a person resolved.

    It is not a post: no user, token or HTTP route can hold it (api/routes builds every ``Actor`` from a
    signed-in principal). The centre's verifier (router/centre/verifier.py) is its one holder.
    """

    name: str

    @property
    def ident(self) -> str:
        return self.name


#: The camera's own judgement after a resolution (camera-verified closure); it never resolves anything,
#: so the rule that a resolver never verifies holds by construction.
CAMERA = SystemActor("camera")
#: All the system may do: from resolved, verify (the zone stayed clear) or reopen (it did not).
SYSTEM_ACTIONS = frozenset({Action.VERIFY, Action.REOPEN})


class NotAllowed(PermissionError):
    """The actor may not take this step on this case; str() says why, fit for a 403 body."""


def check(actor: Actor | SystemActor, action: Action, case: Case) -> None:
    """Raise NotAllowed unless ``actor`` may take ``action`` on ``case`` now."""
    if isinstance(actor, SystemActor):
        if action not in SYSTEM_ACTIONS or case.state is not IncidentState.RESOLVED:
            raise NotAllowed(f"the system may only verify or reopen a resolved case, not {action.value} one "
                             f"that is {case.state.value}")  # fmt: skip
        return
    if actor.ident == CAMERA.ident:
        # The log must not show a person's step as the camera's: the name is the system's alone.
        raise NotAllowed(f"{CAMERA.ident!r} is the system's name: no signed-in user may act under it")
    if action not in POST_ACTIONS[actor.post]:
        if not POST_ACTIONS[actor.post]:
            raise NotAllowed(f"a {actor.post.value} configures the system and handles no case")
        raise NotAllowed(f"a {actor.post.value} cannot {action.value} a case")
    if (case.state, action) not in TRANSITIONS:
        mine = ", ".join(a.value for a in allowed_actions(actor.post, case.state)) or "none"
        raise NotAllowed(f"a {actor.post.value} cannot {action.value} a case that is {case.state.value} "
                         f"(allowed: {mine})")  # fmt: skip
    if actor.post is Post.GRID_WORKER and case.assignee_id != actor.worker_id:
        raise NotAllowed("a grid worker handles only the cases dispatched to them")
    resolver = case.resolved_by is not None and case.resolved_by in (actor.worker_id, actor.name)
    if action in (Action.VERIFY, Action.EVALUATE) and resolver:
        raise NotAllowed(f"whoever resolved a case may not {action.value} it: ask another verifier")


def available(actor: Actor, case: Case) -> tuple[Action, ...]:
    """Every step ``actor`` may take on ``case`` now: what a page offers as buttons."""
    steps: list[Action] = []
    for action in allowed_actions(actor.post, case.state):
        try:
            check(actor, action, case)
        except NotAllowed:
            continue
        steps.append(action)
    return tuple(steps)
