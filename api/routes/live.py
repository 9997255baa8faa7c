"""Live video: the cameras a caller may watch, their newest analysed picture (JPEG, MJPEG) and WebRTC."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import cv2
import numpy as np
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import StreamingResponse

from api.auth import Principal
from api.deps import AnalysisDep, CurrentPrincipal, RoutingDep, WebRTCDep
from api.responses import LiveCamera
from api.webrtc import OfferRejected
from detect.analysis.evidence import annotate_live
from detect.analysis.live import LiveView
from detect.analysis.node import AnalysisNode
from models.records import Camera
from router.centre.routing import Routing

router = APIRouter(tags=["live video"])

_BINARY: dict[str, Any] = {"schema": {"type": "string", "format": "binary"}}


def _jpeg(image: np.ndarray, quality: int = 80) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return bytes(buf)


def _annotated_jpeg(camera: Camera, view: LiveView) -> bytes | None:
    if view.frame is None:
        return None
    return _jpeg(annotate_live(view.frame.image, view.detections, camera.zones), quality=70)


def _watchable(routing: Routing, principal: Principal, camera_id: str) -> Camera:
    """The camera if the caller may watch it (its picture covers their part of the county); 404 alike."""
    camera = routing.cameras.get(camera_id)
    if camera is None or not principal.sees_any(routing.camera_units.get(camera_id, frozenset())):
        raise HTTPException(404, f"no camera {camera_id!r}")
    return camera


def _view(analysis: AnalysisNode, camera_id: str) -> LiveView:
    return analysis.live.setdefault(camera_id, LiveView())


@router.get("/api/cameras", response_model=list[LiveCamera], response_model_exclude_unset=True)
async def cameras(
    routing: RoutingDep, analysis: AnalysisDep, principal: CurrentPrincipal
) -> list[dict[str, Any]]:
    return [
        {
            "id": c.id,
            "name": c.name,
            "frame_size": list(c.frame_size),
            "mount": {"lon": c.mount.lonlat[0], "lat": c.mount.lonlat[1]},
            "calibrated": bool(c.calibration),
            "zones": [{"name": z.name, "kind": z.kind.value, "polygon_px": z.polygon_px} for z in c.zones],
            "status": analysis.status(c.id),
        }
        for c in routing.cameras.values()
        if principal.sees_any(routing.camera_units.get(c.id, frozenset()))
    ]


@router.get(
    "/api/cameras/{camera_id}/snapshot.jpg",
    response_class=Response,
    responses={200: {"description": "The newest analysed picture", "content": {"image/jpeg": _BINARY}}},
)
async def camera_snapshot(
    camera_id: str, routing: RoutingDep, analysis: AnalysisDep, principal: CurrentPrincipal
) -> Response:
    camera = _watchable(routing, principal, camera_id)
    data = await asyncio.to_thread(_annotated_jpeg, camera, _view(analysis, camera_id))
    if data is None:
        raise HTTPException(503, f"camera {camera_id!r} has no picture yet")
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get(
    "/api/cameras/{camera_id}/mjpeg",
    response_class=StreamingResponse,
    responses={200: {"description": "Endless MJPEG", "content": {"multipart/x-mixed-replace": _BINARY}}},
)
async def camera_mjpeg(
    camera_id: str, request: Request, routing: RoutingDep, analysis: AnalysisDep, principal: CurrentPrincipal
) -> StreamingResponse:
    camera = _watchable(routing, principal, camera_id)
    view = _view(analysis, camera_id)

    async def parts() -> AsyncIterator[bytes]:
        last_index = -1
        while not await request.is_disconnected():
            frame = view.frame
            if frame is not None and frame.index != last_index:
                last_index = frame.index
                data = await asyncio.to_thread(_annotated_jpeg, camera, view)
                if data:
                    yield b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(data)
                    yield data + b"\r\n"
            await asyncio.sleep(0.1)

    return StreamingResponse(parts(), media_type="multipart/x-mixed-replace; boundary=frame")


@router.post(
    "/api/cameras/{camera_id}/whep",
    status_code=201,
    response_class=Response,
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/sdp": {"schema": {"type": "string"}}}}
    },
    responses={201: {"content": {"application/sdp": {}}, "description": "SDP answer"}},
)
async def whep_offer(
    camera_id: str, request: Request, routing: RoutingDep, hub: WebRTCDep, principal: CurrentPrincipal
) -> Response:
    """WHEP: POST an SDP offer (application/sdp), get the answer; DELETE the Location to hang up."""
    camera = _watchable(routing, principal, camera_id)
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/sdp":
        raise HTTPException(415, "send the offer as application/sdp")
    try:
        offer = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(422, "the offer is not UTF-8 text") from None
    try:
        session_id, answer = await hub.offer(camera, offer)
    except OfferRejected as exc:
        raise HTTPException(422, str(exc)) from None
    return Response(
        answer, status_code=201, media_type="application/sdp", headers={"Location": f"/api/whep/{session_id}"}
    )


@router.delete("/api/whep/{session_id}", status_code=204, response_class=Response)
async def whep_hangup(
    session_id: str, routing: RoutingDep, hub: WebRTCDep, principal: CurrentPrincipal
) -> Response:
    camera_id = hub.camera_of(session_id)
    if camera_id is None:
        raise HTTPException(404, "no such session")
    _watchable(routing, principal, camera_id)
    await hub.close(session_id)
    return Response(status_code=204)
