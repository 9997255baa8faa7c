"""Camera registry API: add, replace and remove cameras and their zones while the service runs.

The use case (store, router, analysis role) is router.centre.registry.CameraRegistry; the site's
``site.camera_subnets`` bound which camera URLs it accepts (none without them).

Camera URLs are untrusted input (see ingest.camera_urls): refusals are 422 with a reason. Request
bodies are validated here rather than by FastAPI's default handler, because that handler echoes the
offending input, and the input is a URL that may carry a password.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request
from pydantic import ValidationError

from api.audit_trail import mark_audited
from api.auth import Principal
from api.deps import AdminPrincipal, ContextDep, RegistryDep, StoreDep
from api.responses import RegistryCamera
from ingest.camera_urls import IPNetwork, RefusedUrl, check_camera_url
from ingest.urls import mask_url
from models.config import CameraConfig, ZoneConfig, describe_errors, dotted, to_zone
from models.records import Camera
from models.store import Store
from models.store.base import calibration_json, mount_json, zones_json
from router.centre.registry import CameraRegistry

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/registry/cameras", tags=["camera registry"])


JsonBody = Annotated[Any, Body()]


def _unprocessable(problems: list[str]) -> HTTPException:
    return HTTPException(422, [{"reason": p} for p in problems])


def camera_json(camera: Camera) -> dict[str, Any]:
    """The registry view of a camera; the source is masked (user and password never leave)."""
    return {
        "id": camera.id,
        "name": camera.name,
        "source": mask_url(camera.source),
        "frame_size": list(camera.frame_size),
        "mount": mount_json(camera.mount),
        "calibration": calibration_json(camera.calibration),
        "zones": zones_json(camera.zones),
        "analysis_fps": camera.analysis_fps,
        "enabled": camera.enabled,
    }


async def _checked_camera(body: Any, subnets: tuple[IPNetwork, ...], path_id: str | None = None) -> Camera:
    if not isinstance(body, dict):
        raise _unprocessable(["the body must be a JSON object describing a camera"])
    if path_id is not None:
        body = {**body, "id": body.get("id", path_id)}
        if body["id"] != path_id:
            raise _unprocessable([f"id: the body says {body['id']!r}, the path {path_id!r}"])
    if body.get("onvif") is not None:
        # A host given here would skip the subnet admission the stream URL gets; the site file and
        # onboarding (which probes only inside the camera subnets) are where endpoints come from.
        where = "the site file (cameras[].onvif) or by `gridwatch onboard`"
        raise _unprocessable([f"onvif: set a camera's ONVIF endpoint in {where}"])
    source = body.get("source")
    if not isinstance(source, str):
        raise _unprocessable(["source: required, an rtsp:// or rtsps:// URL"])
    try:
        await check_camera_url(source, subnets)
    except RefusedUrl as exc:
        logger.warning("camera registry: refused source %s: %s", mask_url(source), exc)
        raise _unprocessable([f"source: {exc}"]) from None
    try:
        return CameraConfig.model_validate(body).to_camera()
    except ValidationError as exc:
        raise _unprocessable([f"{dotted(loc)}: {message}" for loc, message in describe_errors(exc)]) from None


async def _audit(store: Store, request: Request, principal: Principal, action: str, camera_id: str) -> None:
    # Registry changes belong to the audit trail (issue 12); the source URL stays out of it (passwords).
    mark_audited(request)
    await store.audit.record(
        actor=principal.name,
        action=action,
        object_type="camera",
        object_id=camera_id,
        client=request.client.host if request.client else "",
    )


async def _known(registry: CameraRegistry, camera_id: str) -> Camera:
    camera = await registry.get(camera_id)
    if camera is None:
        raise HTTPException(404, f"no camera {camera_id!r}")
    return camera


@router.get("", response_model=list[RegistryCamera])
async def list_registry(registry: RegistryDep, principal: AdminPrincipal) -> list[dict[str, Any]]:
    return [camera_json(c) for c in await registry.cameras()]


@router.get("/{camera_id}", response_model=RegistryCamera)
async def get_camera(camera_id: str, registry: RegistryDep, principal: AdminPrincipal) -> dict[str, Any]:
    return camera_json(await _known(registry, camera_id))


@router.post("", status_code=201, response_model=RegistryCamera)
async def add_camera(
    registry: RegistryDep,
    ctx: ContextDep,
    principal: AdminPrincipal,
    store: StoreDep,
    request: Request,
    body: JsonBody = None,
) -> dict[str, Any]:
    """Add a camera; it starts streaming at once. 409 if the id is taken (use PUT to replace)."""
    camera = await _checked_camera(body, ctx.camera_subnets)
    if await registry.get(camera.id) is not None:
        raise HTTPException(409, f"camera {camera.id!r} exists; PUT /api/registry/cameras/{camera.id}")
    await registry.save(camera)
    await _audit(store, request, principal, "add", camera.id)
    masked = mask_url(camera.source)
    logger.info("camera registry: %s added camera %s (%s)", principal.name, camera.id, masked)
    return camera_json(camera)


@router.put("/{camera_id}", response_model=RegistryCamera)
async def replace_camera(
    camera_id: str,
    registry: RegistryDep,
    ctx: ContextDep,
    principal: AdminPrincipal,
    store: StoreDep,
    request: Request,
    body: JsonBody = None,
) -> dict[str, Any]:
    """Create or replace a camera; its analysis restarts with the new settings, the others run on."""
    camera = await _checked_camera(body, ctx.camera_subnets, camera_id)
    existing = await registry.get(camera_id)
    if existing is not None:
        # The ONVIF endpoint comes from the site file or onboarding, never from here: a replacement keeps it.
        camera = replace(camera, onvif=existing.onvif)
    await registry.save(camera)
    await _audit(store, request, principal, "replace", camera.id)
    logger.info("camera registry: %s replaced camera %s", principal.name, camera.id)
    return camera_json(camera)


@router.put("/{camera_id}/zones", response_model=RegistryCamera)
async def replace_zones(
    camera_id: str,
    registry: RegistryDep,
    principal: AdminPrincipal,
    store: StoreDep,
    request: Request,
    body: JsonBody = None,
) -> dict[str, Any]:
    """Replace the camera's zones (a JSON list); checked against its frame like the site YAML."""
    current = await _known(registry, camera_id)
    if not isinstance(body, list):
        raise _unprocessable(["the body must be a JSON list of zones"])
    document = camera_json(current)
    # The stored source is trusted already (and may hold a ${VAR}); only the zones are new.
    document["source"] = current.source
    document["mount"] = {k: v for k, v in document["mount"].items() if v is not None}
    document["zones"] = body
    try:
        config = CameraConfig.model_validate(document)
    except ValidationError as exc:
        raise _unprocessable([f"{dotted(loc)}: {message}" for loc, message in describe_errors(exc)]) from None
    zones: list[ZoneConfig] = config.zones
    camera = replace(current, zones=tuple(to_zone(z) for z in zones))
    await registry.save(camera)
    await _audit(store, request, principal, "replace_zones", camera_id)
    logger.info("camera registry: %s replaced the zones of camera %s", principal.name, camera_id)
    return camera_json(camera)


@router.delete("/{camera_id}", status_code=204)
async def remove_camera(
    camera_id: str, registry: RegistryDep, principal: AdminPrincipal, store: StoreDep, request: Request
) -> None:
    if not await registry.remove(camera_id):
        raise HTTPException(404, f"no camera {camera_id!r}")
    await _audit(store, request, principal, "remove", camera_id)
    logger.info("camera registry: %s removed camera %s", principal.name, camera_id)
