"""Incidents: the list and detail, the steps people take on them, and the live feed of their changes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from api.audit_trail import mark_audited
from api.auth import Principal
from api.deps import BroadcasterDep, CaseworkDep, CurrentPrincipal, StoreDep
from api.responses import CaseworkRules, IncidentDetail, IncidentPage, IncidentWithActions
from api.schemas import TransitionIn, event_json, feed_json, incident_json, log_json, parse_uuid
from models.incidents import Incident, IncidentFilter
from models.records import OPEN_STATES, EventKind, IncidentState, Post
from models.store import NotFound, OpenTwin, StaleVersion, Store
from router.centre.casework import NobodyToTake, Step, StepIncomplete
from router.lifecycle import REASONS, TRANSITIONS, Action
from router.permissions import POST_ACTIONS, Actor, NotAllowed

router = APIRouter(tags=["incidents"])

MAX_PAGE = 200


def actor_of(principal: Principal) -> Actor:
    return Actor(principal.name, Post(principal.role), principal.worker_id)


def with_actions(incident: Incident, steps: Sequence[Action]) -> dict[str, Any]:
    """The incident as the caller sees it: with the steps they may take on it now (the pages' buttons)."""
    return {**incident_json(incident), "actions": [step.value for step in steps]}


def no_such_incident(incident_id: object) -> HTTPException:
    # Out-of-scope objects answer exactly like missing ones: existence is itself information.
    return HTTPException(404, f"no incident {incident_id}")


async def scoped_incident(store: Store, principal: Principal, incident_id: str) -> Incident:
    """The incident if it exists and the caller may see it; 404 alike otherwise."""
    parsed = parse_uuid(incident_id)
    if parsed is None:
        raise no_such_incident(repr(incident_id))
    try:
        incident = await store.incidents.get(parsed)
    except NotFound:
        raise no_such_incident(parsed) from None
    if not principal.sees(incident.unit_code):
        raise no_such_incident(parsed)
    return incident


@router.get("/api/incidents", response_model=IncidentPage)
async def list_incidents(
    store: StoreDep,
    casework: CaseworkDep,
    principal: CurrentPrincipal,
    unit: Annotated[
        str | None, Query(pattern=r"^\d{6}(\d{3}){0,3}$", description="Unit code subtree")
    ] = None,
    kind: EventKind | None = None,
    state: Annotated[list[IncidentState] | None, Query()] = None,
    open_only: bool = False,
    mine: Annotated[bool, Query(description="Only incidents assigned to the signed-in worker")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    states = state or (sorted(OPEN_STATES) if open_only else None)
    subtree = principal.narrow(unit)
    if subtree is None:
        return {"items": [], "total": 0, "limit": limit, "offset": offset}
    incidents, total = await store.incidents.page(
        IncidentFilter(
            unit_prefix=subtree,
            kind=kind,
            states=states,
            assignee_id=(principal.worker_id or f"user:{principal.name}") if mine else None,
        ),
        limit=limit,
        offset=offset,
    )
    steps = await casework.steps_for(actor_of(principal), incidents)
    items = [with_actions(i, s) for i, s in zip(incidents, steps, strict=True)]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.get("/api/incidents/{incident_id}", response_model=IncidentDetail)
async def get_incident(
    incident_id: str, request: Request, store: StoreDep, casework: CaseworkDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    incident = await scoped_incident(store, principal, incident_id)
    await store.audit.record(
        actor=principal.name,
        action="view",
        object_type="incident",
        object_id=str(incident.id),
        client=request.client.host if request.client else "",
    )
    [steps] = await casework.steps_for(actor_of(principal), [incident])
    return {
        **with_actions(incident, steps),
        "log": [log_json(e) for e in await store.incidents.log(incident.id)],
        "events": [event_json(e) for e in await store.incidents.events(incident.id)],
    }


@router.post("/api/incidents/{incident_id}/transitions", response_model=IncidentWithActions)
async def transition(
    incident_id: str,
    body: TransitionIn,
    request: Request,
    store: StoreDep,
    casework: CaseworkDep,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    """Take a step of the loop: 403 when the caller's post may not take it on this case now."""
    mark_audited(request)  # a step taken is a row of the incident log, itself hash-chained
    try:
        action = Action(body.action)
    except ValueError:
        raise HTTPException(
            422, f"unknown action {body.action!r}; one of {[a.value for a in Action]}"
        ) from None
    incident = await scoped_incident(store, principal, incident_id)
    step = Step(action, body.note, body.attachments, body.reason, body.rating, body.assignee_id)
    actor = actor_of(principal)
    try:
        moved = await casework.take(incident, actor, step, expected_state=body.expected_state)
    except NotAllowed as exc:
        raise HTTPException(403, str(exc)) from None
    except StepIncomplete as exc:
        raise HTTPException(422, str(exc)) from None
    except (StaleVersion, OpenTwin, NobodyToTake) as exc:
        raise HTTPException(409, str(exc)) from None
    [steps] = await casework.steps_for(actor, [moved])
    return with_actions(moved, steps)


@router.get("/api/casework", response_model=CaseworkRules)
async def casework_rules(principal: CurrentPrincipal) -> dict[str, Any]:
    """The loop's rules as data, for pages and clients: the state machine, who may take which step, and the
    reason codes returns and rejections need."""
    return {
        "transitions": [
            {"from": state.value, "action": action.value, "to": to.value}
            for (state, action), to in TRANSITIONS.items()
        ],
        "posts": {post.value: sorted(a.value for a in actions) for post, actions in POST_ACTIONS.items()},
        "reasons": {action.value: codes for action, codes in REASONS.items()},
        "mine": principal.role,
    }


@router.get(
    "/api/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-sent events",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def stream(
    request: Request, broadcaster: BroadcasterDep, casework: CaseworkDep, principal: CurrentPrincipal
) -> StreamingResponse:
    """Server-sent events: every change of an incident the caller may see, as it commits, with the steps
    the caller may take on it now."""
    actor = actor_of(principal)

    async def events() -> AsyncIterator[str]:
        async with broadcaster.subscribe() as queue:
            yield ": connected\n\n"
            while not await request.is_disconnected():
                try:
                    message = await asyncio.wait_for(queue.get(), timeout=15)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if not principal.sees(message.incident.unit_code):
                    continue
                [steps] = await casework.steps_for(actor, [message.incident])
                data = json.dumps(
                    {**feed_json(message), "incident": with_actions(message.incident, steps)},
                    ensure_ascii=False,
                )
                yield f"event: {message.topic}\ndata: {data}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})
