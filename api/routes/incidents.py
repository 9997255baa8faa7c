"""Incidents: the list and detail, the steps people take on them, and the live feed of their changes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from api.auth import Principal
from api.deps import BroadcasterDep, CaseworkDep, CurrentPrincipal, StoreDep
from api.schemas import TransitionIn, event_json, feed_json, incident_json, log_json, parse_uuid
from models.incidents import Incident, IncidentFilter
from models.records import OPEN_STATES, EventKind, IncidentState
from models.store import NotFound, StaleVersion, Store
from router.lifecycle import Action, IllegalTransition

router = APIRouter(tags=["incidents"])

MAX_PAGE = 200


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


@router.get("/api/incidents")
async def list_incidents(
    store: StoreDep,
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
    return {"items": [incident_json(i) for i in incidents], "total": total, "limit": limit, "offset": offset}


@router.get("/api/incidents/{incident_id}")
async def get_incident(incident_id: str, store: StoreDep, principal: CurrentPrincipal) -> dict[str, Any]:
    incident = await scoped_incident(store, principal, incident_id)
    return {
        **incident_json(incident),
        "log": [log_json(e) for e in await store.incidents.log(incident.id)],
        "events": [event_json(e) for e in await store.incidents.events(incident.id)],
    }


@router.post("/api/incidents/{incident_id}/transitions")
async def transition(
    incident_id: str, body: TransitionIn, store: StoreDep, casework: CaseworkDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    try:
        action = Action(body.action)
    except ValueError:
        raise HTTPException(
            422, f"unknown action {body.action!r}; one of {[a.value for a in Action]}"
        ) from None
    incident = await scoped_incident(store, principal, incident_id)
    try:
        moved = await casework.transition(
            incident,
            action,
            principal.worker_id or principal.name,
            note=body.note,
            attachments=body.attachments,
            expected_state=body.expected_state,
        )
    except (IllegalTransition, StaleVersion) as exc:
        raise HTTPException(409, str(exc)) from exc
    return incident_json(moved)


@router.get("/api/stream")
async def stream(
    request: Request, broadcaster: BroadcasterDep, principal: CurrentPrincipal
) -> StreamingResponse:
    """Server-sent events: every change of an incident the caller may see, as it commits."""

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
                data = json.dumps(feed_json(message), ensure_ascii=False)
                yield f"event: {message.topic}\ndata: {data}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})
