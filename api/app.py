"""The FastAPI application: REST, live feed (SSE), live pictures (MJPEG) and the web pages."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import cv2
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from api.auth import AdminPrincipal, AuthConfig, CurrentPrincipal, Principal
from api.auth_routes import router as auth_router
from api.cameras_api import router as cameras_router
from api.schemas import TransitionIn, event_json, incident_json, log_json, parse_uuid
from api.service import LiveView, Service
from api.webrtc import OfferRejected, WebRTCHub
from detect.evidence import annotate_live
from models.auth_store import AuthStore
from models.records import OPEN_STATES, EventKind, IncidentState
from models.store import IncidentFilter, NotFound, StaleVersion
from router.lifecycle import Action, IllegalTransition, next_state

logger = logging.getLogger(__name__)

MAX_PAGE = 200
#: Accepted handler photo types and the bytes each must start with.
PHOTO_TYPES = {"image/jpeg": b"\xff\xd8", "image/png": b"\x89PNG"}
#: Request bodies above this are refused with 413 before they are read.
MAX_BODY_BYTES = 1 << 20
STATIC_DIR = Path(str(resources.files("api") / "static"))


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def _incident_id(value: str) -> Any:
    parsed = parse_uuid(value)
    if parsed is None:
        raise HTTPException(404, f"no incident {value!r}")
    return parsed


def _jpeg(image: Any, quality: int = 80) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return bytes(buf)


def _annotated_jpeg(service: Service, camera_id: str, view: LiveView) -> bytes | None:
    if view.frame is None:
        return None
    camera = service.cameras[camera_id]
    return _jpeg(annotate_live(view.frame.image, view.detections, camera.zones), quality=70)


def _no_such_incident(incident_id: object) -> HTTPException:
    # Out-of-scope objects answer exactly like missing ones: existence is itself information.
    return HTTPException(404, f"no incident {incident_id}")


async def _scoped_incident(service: Service, principal: Principal, iid: Any) -> dict[str, Any]:
    try:
        row = await service.store.get_incident_row(iid)
    except NotFound:
        raise _no_such_incident(iid) from None
    if not principal.sees(row["unit_code"]):
        raise _no_such_incident(iid)
    return row


def _latest_image(service: Service, camera_id: str) -> Any:
    view = service.live.get(camera_id)
    return view.frame.image if view is not None and view.frame is not None else None


def _detections_message(service: Service, camera_id: str) -> dict[str, Any]:
    """What the data channel sends: boxes in frame pixels, and the zones to outline."""
    view = service.live.get(camera_id)
    camera = service.cameras[camera_id]
    frame = view.frame if view is not None else None
    height, width = (
        frame.image.shape[:2] if frame is not None else (camera.frame_size[1], camera.frame_size[0])
    )
    return {
        "camera_id": camera_id,
        "frame": frame.index if frame is not None else None,
        "size": [width, height],
        "boxes": [
            {"xyxy": [round(v, 1) for v in d.xyxy], "label": d.label, "confidence": round(d.confidence, 2)}
            for d in (view.detections if view is not None else [])
        ],
        "zones": [{"name": z.name, "kind": z.kind.value, "polygon": z.polygon_px} for z in camera.zones],
    }


def create_app(service: Service, auth: AuthConfig, *, camera_subnets: Sequence[str] = ()) -> FastAPI:
    app = FastAPI(
        title="gridwatch",
        version="0.1.0",
        description="Cameras in, complete, deduplicated, owned incidents out.",
    )
    app.state.service = service
    app.state.auth = auth
    app.state.auth_store = AuthStore(service.store.pool)
    app.include_router(auth_router)
    # Cameras may be added at run time only inside these networks (api.cameras_api).
    app.state.camera_subnets = list(camera_subnets)
    app.include_router(cameras_router)
    app.state.webrtc = WebRTCHub(
        lambda cid: lambda: _latest_image(service, cid), lambda cid: _detections_message(service, cid)
    )

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Any) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return JSONResponse({"detail": f"request body over {MAX_BODY_BYTES} bytes"}, status_code=413)
        response: Response = await call_next(request)
        return response

    registry = CollectorRegistry()
    camera_up = Gauge(
        "gridwatch_camera_online", "1 when the camera delivers frames", ["camera"], registry=registry
    )
    analysed = Gauge("gridwatch_camera_analysed_frames", "Frames analysed", ["camera"], registry=registry)
    feed_clients = Gauge("gridwatch_feed_clients", "Connected live-feed clients", registry=registry)
    delivered = Gauge(
        "gridwatch_outbox_delivered", "Outbox rows delivered to the live feed", registry=registry
    )

    @app.get("/api/health")
    async def health(service: ServiceDep) -> dict[str, Any]:
        """Liveness for probes: no object names, so it needs no sign-in."""
        await service.store.counts()
        return {"status": "ok", "database": "ok"}

    @app.get("/api/status")
    async def status(service: ServiceDep, principal: AdminPrincipal) -> dict[str, Any]:
        return {
            "counts": await service.store.counts(),
            "cameras": {cid: service.camera_status(cid) for cid in service.cameras},
            "detector": {"batches": service.batcher.batches, "frames": service.batcher.frames},
        }

    @app.get("/api/site")
    async def site(service: ServiceDep, principal: CurrentPrincipal) -> dict[str, Any]:
        """What the pages need to show local time: the county's time zone."""
        return {"timezone": service.timezone}

    @app.get("/api/incidents")
    async def list_incidents(
        service: ServiceDep,
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
        rows, total = await service.store.list_incident_rows(
            IncidentFilter(
                unit_prefix=subtree,
                kind=kind,
                states=states,
                assignee_id=(principal.worker_id or f"user:{principal.name}") if mine else None,
            ),
            limit=limit,
            offset=offset,
        )
        return {"items": [incident_json(r) for r in rows], "total": total, "limit": limit, "offset": offset}

    @app.get("/api/incidents/{incident_id}")
    async def get_incident(
        incident_id: str, service: ServiceDep, principal: CurrentPrincipal
    ) -> dict[str, Any]:
        iid = _incident_id(incident_id)
        row = await _scoped_incident(service, principal, iid)
        return {
            **incident_json(row),
            "log": [log_json(e) for e in await service.store.incident_log(iid)],
            "events": [event_json(e) for e in await service.store.incident_events(iid)],
        }

    @app.post("/api/incidents/{incident_id}/transitions")
    async def transition(
        incident_id: str, body: TransitionIn, service: ServiceDep, principal: CurrentPrincipal
    ) -> dict[str, Any]:
        iid = _incident_id(incident_id)
        try:
            action = Action(body.action)
        except ValueError:
            raise HTTPException(
                422, f"unknown action {body.action!r}; one of {[a.value for a in Action]}"
            ) from None
        row = await _scoped_incident(service, principal, iid)
        current = IncidentState(row["state"])
        if body.expected_state is not None and body.expected_state != current:
            raise HTTPException(409, f"incident is {current.value}, not {body.expected_state.value}")
        try:
            target = next_state(current, action)
        except IllegalTransition as exc:
            raise HTTPException(409, str(exc)) from exc
        try:
            await service.store.transition(
                iid,
                to_state=target,
                action=action.value,
                actor=principal.worker_id or principal.name,
                at=service.clock.now(),
                note=body.note,
                expected_from=current,
                attachments=body.attachments,
            )
        except StaleVersion as exc:
            raise HTTPException(409, str(exc)) from exc
        service.relay.wake()
        return incident_json(await service.store.get_incident_row(iid))

    @app.post("/api/incidents/{incident_id}/attachments", status_code=201)
    async def attach(
        incident_id: str, request: Request, service: ServiceDep, principal: CurrentPrincipal
    ) -> dict[str, Any]:
        """A handler's photo, sent as the raw body (image/jpeg or image/png, at most 1 MiB)."""
        iid = _incident_id(incident_id)
        await _scoped_incident(service, principal, iid)
        media_type = request.headers.get("content-type", "").split(";")[0].strip()
        if media_type not in PHOTO_TYPES:
            raise HTTPException(
                415, f"photos must be one of {', '.join(sorted(PHOTO_TYPES))}, not {media_type!r}"
            )
        data = await request.body()
        if not data.startswith(PHOTO_TYPES[media_type]):
            raise HTTPException(422, f"the body is not a {media_type} image")
        attachment_id = uuid.uuid4().hex
        auth_store: AuthStore = request.app.state.auth_store
        digest = hashlib.sha256(data).hexdigest()
        await auth_store.add_attachment(attachment_id, iid, media_type, digest, data, principal.name)
        return {
            "id": attachment_id,
            "sha256": digest,
            "size": len(data),
            "url": f"/api/attachments/{attachment_id}",
        }

    @app.get("/api/attachments/{attachment_id}")
    async def attachment(attachment_id: str, request: Request, principal: CurrentPrincipal) -> Response:
        auth_store: AuthStore = request.app.state.auth_store
        found = await auth_store.attachment(attachment_id) if attachment_id.isalnum() else None
        if found is None or not principal.sees(found[0]["unit_code"]):
            raise HTTPException(404, "no such attachment")
        meta, data = found
        return Response(data, media_type=meta["media_type"], headers={"X-Content-SHA256": meta["sha256"]})

    @app.get("/api/evidence/{evidence_id}")
    async def evidence(
        evidence_id: str,
        request: Request,
        service: ServiceDep,
        principal: CurrentPrincipal,
        reason: Annotated[str, Query(max_length=200, description="Why it is viewed (audit log)")] = "review",
    ) -> Response:
        if not evidence_id.isalnum() or len(evidence_id) > 64:
            raise HTTPException(404, "no such evidence")
        try:
            meta, data = await service.store.get_evidence(evidence_id)
        except NotFound as exc:
            raise HTTPException(404, "no such evidence") from exc
        if not principal.sees(meta["unit_code"]):
            raise HTTPException(404, "no such evidence")
        auth_store: AuthStore = request.app.state.auth_store
        await auth_store.audit(
            actor=principal.name,
            action="view",
            object_type="evidence",
            object_id=evidence_id,
            reason=reason,
            client=request.client.host if request.client else "",
        )
        return Response(data, media_type=meta["media_type"], headers={"X-Content-SHA256": meta["sha256"]})

    @app.get("/api/cameras")
    async def cameras(service: ServiceDep, principal: CurrentPrincipal) -> list[dict[str, Any]]:
        return [
            {
                "id": c.id,
                "name": c.name,
                "frame_size": list(c.frame_size),
                "mount": {"lon": c.mount.lonlat[0], "lat": c.mount.lonlat[1]},
                "calibrated": bool(c.calibration),
                "zones": [
                    {"name": z.name, "kind": z.kind.value, "polygon_px": z.polygon_px} for z in c.zones
                ],
                "status": service.camera_status(c.id),
            }
            for c in service.cameras.values()
            if principal.sees_any(service.camera_units.get(c.id, frozenset()))
        ]

    def _view(service: Service, principal: Principal, camera_id: str) -> LiveView:
        if camera_id not in service.cameras or not principal.sees_any(
            service.camera_units.get(camera_id, frozenset())
        ):
            raise HTTPException(404, f"no camera {camera_id!r}")
        return service.live.setdefault(camera_id, LiveView())

    @app.get("/api/cameras/{camera_id}/snapshot.jpg")
    async def camera_snapshot(camera_id: str, service: ServiceDep, principal: CurrentPrincipal) -> Response:
        view = _view(service, principal, camera_id)
        data = await asyncio.to_thread(_annotated_jpeg, service, camera_id, view)
        if data is None:
            raise HTTPException(503, f"camera {camera_id!r} has no picture yet")
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.get("/api/cameras/{camera_id}/mjpeg")
    async def camera_mjpeg(
        camera_id: str, request: Request, service: ServiceDep, principal: CurrentPrincipal
    ) -> StreamingResponse:
        view = _view(service, principal, camera_id)

        async def parts() -> AsyncIterator[bytes]:
            last_index = -1
            while not await request.is_disconnected():
                frame = view.frame
                if frame is not None and frame.index != last_index:
                    last_index = frame.index
                    data = await asyncio.to_thread(_annotated_jpeg, service, camera_id, view)
                    if data:
                        yield b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(data)
                        yield data + b"\r\n"
                await asyncio.sleep(0.1)

        return StreamingResponse(parts(), media_type="multipart/x-mixed-replace; boundary=frame")

    @app.post(
        "/api/cameras/{camera_id}/whep",
        status_code=201,
        response_class=Response,
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/sdp": {"schema": {"type": "string"}}}}
        },
        responses={201: {"content": {"application/sdp": {}}, "description": "SDP answer"}},
    )
    async def whep_offer(
        camera_id: str, request: Request, service: ServiceDep, principal: CurrentPrincipal
    ) -> Response:
        """WHEP: POST an SDP offer (application/sdp), get the answer; DELETE the Location to hang up."""
        _view(service, principal, camera_id)
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/sdp":
            raise HTTPException(415, "send the offer as application/sdp")
        try:
            offer = (await request.body()).decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPException(422, "the offer is not UTF-8 text") from None
        hub: WebRTCHub = request.app.state.webrtc
        try:
            session, answer = await hub.answer(service.cameras[camera_id], offer)
        except OfferRejected as exc:
            raise HTTPException(422, str(exc)) from None
        return Response(
            answer,
            status_code=201,
            media_type="application/sdp",
            headers={"Location": f"/api/whep/{session.id}"},
        )

    @app.delete("/api/whep/{session_id}", status_code=204, response_class=Response)
    async def whep_hangup(
        session_id: str, request: Request, service: ServiceDep, principal: CurrentPrincipal
    ) -> Response:
        hub: WebRTCHub = request.app.state.webrtc
        session = hub.sessions.get(session_id)
        if session is None:
            raise HTTPException(404, "no such session")
        _view(service, principal, session.camera_id)
        await hub.close(session_id)
        return Response(status_code=204)

    @app.get("/api/grids")
    async def grids(service: ServiceDep, principal: CurrentPrincipal) -> dict[str, Any]:
        open_rows, _ = await service.store.list_incident_rows(
            IncidentFilter(unit_prefix=principal.scope, states=sorted(OPEN_STATES)), limit=10_000
        )
        open_by_grid: dict[str, int] = {}
        for row in open_rows:
            if row["grid_code"]:
                open_by_grid[row["grid_code"]] = open_by_grid.get(row["grid_code"], 0) + 1
        features = [
            {
                "type": "Feature",
                "geometry": g.geometry,
                "properties": {
                    "code": g.code,
                    "name": g.name,
                    "kind": g.kind.value,
                    "community_name": g.community_name,
                    "township_name": g.township_name,
                    "open_incidents": open_by_grid.get(g.code, 0),
                },
            }
            for g in await service.store.load_grids()
            if principal.sees(g.code)
        ]
        return {"type": "FeatureCollection", "features": features}

    @app.get("/api/stream")
    async def stream(request: Request, service: ServiceDep, principal: CurrentPrincipal) -> StreamingResponse:
        async def events() -> AsyncIterator[str]:
            async with service.broadcaster.subscribe() as queue:
                yield ": connected\n\n"
                while not await request.is_disconnected():
                    try:
                        message = await asyncio.wait_for(queue.get(), timeout=15)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    if not principal.sees(message["incident"]["place"]["unit_code"]):
                        continue
                    yield f"event: {message['type']}\ndata: {json.dumps(message, ensure_ascii=False)}\n\n"

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    @app.get("/metrics")
    async def metrics(service: ServiceDep, principal: AdminPrincipal) -> Response:
        for cid in service.cameras:
            status = service.camera_status(cid)
            camera_up.labels(cid).set(1 if status["state"] == "online" else 0)
            analysed.labels(cid).set(status["analysed_frames"])
        feed_clients.set(service.broadcaster.subscriber_count)
        delivered.set(service.relay.delivered)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/login", include_in_schema=False)
    async def login_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "login.html")

    @app.get("/worker", include_in_schema=False)
    async def worker_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "worker.html")

    @app.exception_handler(asyncpg.DataError)
    async def bad_data(_: Request, exc: asyncpg.DataError) -> JSONResponse:
        # Input the schema allows but PostgreSQL cannot store (a NUL byte in a text field, say).
        return JSONResponse(
            {"detail": f"input rejected by the database: {exc.__class__.__name__}"}, status_code=422
        )

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
