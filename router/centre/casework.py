"""What people do to incidents, each written once: take a step of the loop, attach a photo.

The API checks who may see an incident before it calls here; these use cases check who may take the step
(router/permissions.py), what it needs (a reason to return or reject, a rating to evaluate, a person to
hand the case to), arm fresh deadlines where the step hands the case to someone, write it through the
store (one transaction with the log row and the outbox row) and ring the outbox bell, so the change
reaches the wall and the chat groups at once.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from models.clock import Clock
from models.incidents import Incident
from models.records import Assignee, IncidentState, Role
from models.store import StaleVersion, Store
from router.centre.bell import OutboxBell
from router.centre.routing import Routing
from router.deadlines import DEFAULT_POLICY, DeadlinePolicy, TimerKind, is_pending
from router.duty import Roster
from router.escalation import Standing, escalate
from router.lifecycle import ARMS_DEADLINES, REASONS, Action, transition
from router.permissions import Actor, Case, SystemActor, available, check

#: Accepted handler photo types and the bytes each must start with.
PHOTO_TYPES = {"image/jpeg": b"\xff\xd8", "image/png": b"\x89PNG"}


class PhotoRefused(ValueError):
    """Not a photo we keep: ``unsupported`` when the type is wrong, else the bytes do not match it."""

    def __init__(self, message: str, *, unsupported: bool) -> None:
        super().__init__(message)
        self.unsupported = unsupported


class StepIncomplete(ValueError):
    """The step lacks what it needs (a reason code, a rating, a known person); str() says what."""


class NobodyToTake(RuntimeError):
    """Nobody on duty can take the case now (escalating above the top of the chain, say)."""


@dataclass(frozen=True, slots=True)
class Attachment:
    id: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class Step:
    """One step someone takes: the action and what it carries."""

    action: Action
    note: str = ""
    attachments: Sequence[str] = ()
    #: RETURN and REJECT: a code of router.lifecycle.REASONS.
    reason: str | None = None
    #: EVALUATE: 1 (poor) to 5 (excellent).
    rating: int | None = None
    #: REASSIGN (required), FILE and DISPATCH (optional): the roster id of who gets the case.
    assignee_id: str | None = None


class Casework:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        bell: OutboxBell,
        routing: Routing,
        *,
        policy: DeadlinePolicy = DEFAULT_POLICY,
    ) -> None:
        self._store = store
        self._clock = clock
        self._bell = bell
        self._routing = routing
        self._policy = policy
        self._on_resolved: list[Callable[[Incident], Awaitable[None]]] = []
        self._on_rejected: list[Callable[[Incident, str | None], Awaitable[None]]] = []

    def on_resolved(self, listener: Callable[[Incident], Awaitable[None]]) -> None:
        """Call ``listener`` with each incident just resolved (the camera verifier watches its zone)."""
        self._on_resolved.append(listener)

    def on_rejected(self, listener: Callable[[Incident, str | None], Awaitable[None]]) -> None:
        """Call ``listener`` with each incident just rejected and the reason (false alarms silence a spot)."""
        self._on_rejected.append(listener)

    async def case(self, incident: Incident) -> Case:
        """What the permission rules need of the incident, its resolver read from its log."""
        return (await self.cases([incident]))[0]

    async def cases(self, incidents: Sequence[Incident]) -> list[Case]:
        """``case`` for many incidents, with one read of the log."""
        resolvers = await self._store.incidents.resolvers([i.id for i in incidents])
        return [Case(i.state, i.assignee_id, resolvers.get(i.id)) for i in incidents]

    async def steps_for(self, actor: Actor, incidents: Sequence[Incident]) -> list[tuple[Action, ...]]:
        """The steps ``actor`` may take on each incident now: the buttons a page offers."""
        return [available(actor, case) for case in await self.cases(incidents)]

    async def take(
        self,
        incident: Incident,
        actor: Actor | SystemActor,
        step: Step,
        *,
        expected_state: IncidentState | None = None,
    ) -> Incident:
        """Take ``step`` on the incident as the caller read it; returns it as it stands afterwards.

        NotAllowed when the actor may not; StepIncomplete when the step lacks what it needs; StaleVersion
        when the incident is not in ``expected_state`` or moved on since it was read; OpenTwin when reopening
        would clash with an open recurrence; NobodyToTake when nobody is on duty to hand it to.
        """
        if expected_state is not None and expected_state is not incident.state:
            raise StaleVersion(f"incident is {incident.state.value}, not {expected_state.value}")
        check(actor, step.action, await self.case(incident))
        _check_complete(step)
        now = self._clock.now()
        handover = self._handover(incident, step, now)
        deadlines = (
            self._policy.timer_deadlines(incident.severity, now) if step.action in ARMS_DEADLINES else None
        )
        entry = transition(
            incident.id,
            incident.state,
            step.action,
            actor.ident,
            now,
            step.note,
            tuple(step.attachments),
            reason=step.reason,
            rating=step.rating,
        )
        await self._store.incidents.apply(entry, handover=handover, deadlines=deadlines)
        self._bell.ring()
        moved = await self._store.incidents.get(incident.id)
        if step.action is Action.RESOLVE:
            for listener in self._on_resolved:
                await listener(moved)
        if step.action is Action.REJECT:
            for rejected in self._on_rejected:
                await rejected(moved, step.reason)
        return moved

    def _handover(self, incident: Incident, step: Step, now: datetime) -> Assignee | None:
        """Who gets the case with this step: None keeps the assignee it has."""
        roster = self._routing.roster() or Roster([])
        if step.action is Action.ESCALATE:
            role = incident.duty.get("role")
            standing = Standing(
                incident.state,
                incident.severity,
                incident.unit_code,
                incident.assignee_id,
                Role(role) if role in set(Role) else None,
            )
            up = escalate(standing, _next_deadline(incident.state), roster, now, self._policy)
            if up is None or up.to is None:
                raise NobodyToTake("nobody above the current assignee is on duty now")
            return up.to
        if step.assignee_id is None:
            if step.action is Action.REASSIGN:
                raise StepIncomplete("reassign needs assignee_id: the roster id of who gets the case")
            waited = step.action is Action.FILE and incident.assignee_id is None
            if step.action is Action.DISPATCH or waited:
                # A returned or reopened case goes to whoever is on duty for its unit now; so does a case that
                # waited in the review queue (it opened with nobody: router/pipeline.py).
                return roster.resolve(incident.unit_code, now).assignee
            return None
        found = roster.worker(step.assignee_id)
        if found is None:
            raise StepIncomplete(f"no worker {step.assignee_id!r} in the roster")
        return found

    async def attach_photo(
        self, incident: Incident, media_type: str, data: bytes, uploaded_by: str
    ) -> Attachment:
        """Keep a handler's photo of the scene with the incident; PhotoRefused when it is not one."""
        if media_type not in PHOTO_TYPES:
            raise PhotoRefused(
                f"photos must be one of {', '.join(sorted(PHOTO_TYPES))}, not {media_type!r}",
                unsupported=True,
            )
        if not data.startswith(PHOTO_TYPES[media_type]):
            raise PhotoRefused(f"the body is not a {media_type} image", unsupported=False)
        attachment_id = uuid.uuid4().hex
        digest = hashlib.sha256(data).hexdigest()
        await self._store.attachments.add(attachment_id, incident.id, media_type, digest, data, uploaded_by)
        return Attachment(attachment_id, digest, len(data))


def _next_deadline(state: IncidentState) -> TimerKind:
    """The first step the case has still to take: what a manual escalation hurries."""
    return next(kind for kind in TimerKind if is_pending(kind, state))


def _check_complete(step: Step) -> None:
    codes = REASONS.get(step.action)
    if codes is not None and step.reason not in codes:
        raise StepIncomplete(f"{step.action.value} needs a reason, one of {', '.join(codes)}")
    if step.action is Action.EVALUATE and not (step.rating is not None and 1 <= step.rating <= 5):
        raise StepIncomplete("evaluate needs a rating from 1 (poor) to 5 (excellent)")
