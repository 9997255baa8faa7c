"""Evidence: camera snapshots and clips (every view audited), and the photos handlers attach."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from api.deps import CaseworkDep, CurrentPrincipal, StoreDep
from api.responses import AttachmentOut
from api.routes.incidents import scoped_incident
from models.store import NotFound
from router.centre.casework import PhotoRefused

router = APIRouter(tags=["evidence"])

_BINARY = {"schema": {"type": "string", "format": "binary"}}
#: The photo is the raw body, not JSON: declared by hand, as FastAPI reads no body for this route.
PHOTO_BODY: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"image/jpeg": _BINARY, "image/png": _BINARY}}
}
PHOTO: dict[int | str, dict[str, Any]] = {
    200: {"description": "The photo", "content": {"image/jpeg": _BINARY, "image/png": _BINARY}}
}
MEDIA: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The snapshot (image/jpeg) or clip (video/mp4)",
        "content": {"image/jpeg": _BINARY, "video/mp4": _BINARY},
    }
}


@router.post(
    "/api/incidents/{incident_id}/attachments",
    status_code=201,
    response_model=AttachmentOut,
    openapi_extra=PHOTO_BODY,
)
async def attach(
    incident_id: str, request: Request, store: StoreDep, casework: CaseworkDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """A handler's photo, sent as the raw body (image/jpeg or image/png, at most 1 MiB)."""
    incident = await scoped_incident(store, principal, incident_id)
    media_type = request.headers.get("content-type", "").split(";")[0].strip()
    try:
        attachment = await casework.attach_photo(incident, media_type, await request.body(), principal.name)
    except PhotoRefused as exc:
        raise HTTPException(415 if exc.unsupported else 422, str(exc)) from None
    return {
        "id": attachment.id,
        "sha256": attachment.sha256,
        "size": attachment.size,
        "url": f"/api/attachments/{attachment.id}",
    }


@router.get("/api/attachments/{attachment_id}", response_class=Response, responses=PHOTO)
async def attachment(
    attachment_id: str, request: Request, store: StoreDep, principal: CurrentPrincipal
) -> Response:
    found = await store.attachments.get(attachment_id) if attachment_id.isalnum() else None
    if found is None or not principal.sees(found[0].unit_code):
        raise HTTPException(404, "no such attachment")
    meta, data = found
    await store.audit.record(
        actor=principal.name,
        action="view",
        object_type="attachment",
        object_id=attachment_id,
        client=request.client.host if request.client else "",
    )
    return Response(data, media_type=meta.media_type, headers={"X-Content-SHA256": meta.sha256})


@router.get("/api/evidence/{evidence_id}", response_class=Response, responses=MEDIA)
async def evidence(
    evidence_id: str,
    request: Request,
    store: StoreDep,
    principal: CurrentPrincipal,
    reason: Annotated[str, Query(max_length=200, description="Why it is viewed (audit log)")] = "review",
) -> Response:
    if not evidence_id.isalnum() or len(evidence_id) > 64:
        raise HTTPException(404, "no such evidence")
    try:
        meta, data = await store.evidence.get(evidence_id)
    except NotFound as exc:
        raise HTTPException(404, "no such evidence") from exc
    if not principal.sees(meta.unit_code):
        raise HTTPException(404, "no such evidence")
    if meta.pruned_at is not None:
        raise HTTPException(
            410, f"evidence pruned on {meta.pruned_at:%Y-%m-%d} by retention ({meta.pruned_reason})"
        )
    await store.audit.record(
        actor=principal.name,
        action="view",
        object_type="evidence",
        object_id=evidence_id,
        reason=reason,
        client=request.client.host if request.client else "",
    )
    return Response(data, media_type=meta.media_type, headers={"X-Content-SHA256": meta.sha256})
