"""The installation itself: liveness, status, the county's time zone and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from api.deps import AdminPrincipal, AnalysisDep, ContextDep, CurrentPrincipal, RoutingDep, StoreDep
from detect.labels import blind_spots

router = APIRouter(tags=["meta"])


@router.get("/api/health")
async def health(store: StoreDep) -> dict[str, Any]:
    """Liveness for probes: no object names, so it needs no sign-in."""
    await store.counts()
    return {"status": "ok", "database": "ok"}


@router.get("/api/status")
async def status(
    store: StoreDep, routing: RoutingDep, analysis: AnalysisDep, principal: AdminPrincipal
) -> dict[str, Any]:
    return {
        "counts": await store.counts(),
        "cameras": {cid: analysis.status(cid) for cid in routing.cameras},
        "detector": {
            "batches": analysis.batcher.batches,
            "frames": analysis.batcher.frames,
            "name": analysis.batcher.detector.name,
            # What this model cannot see and which zones that blinds, instead of silently seeing nothing.
            "cannot_see": blind_spots(analysis.batcher.detector),
        },
    }


@router.get("/api/site")
async def site(routing: RoutingDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """What the pages need to show local time: the county's time zone."""
    return {"timezone": routing.timezone}


@router.get("/metrics")
async def metrics(ctx: ContextDep, principal: AdminPrincipal) -> Response:
    # A fresh registry per scrape: the values are read off the running system, never kept twice.
    registry = CollectorRegistry()
    camera_up = Gauge(
        "gridwatch_camera_online", "1 when the camera delivers frames", ["camera"], registry=registry
    )
    analysed = Gauge("gridwatch_camera_analysed_frames", "Frames analysed", ["camera"], registry=registry)
    feed_clients = Gauge("gridwatch_feed_clients", "Connected live-feed clients", registry=registry)
    delivered = Gauge(
        "gridwatch_outbox_delivered", "Outbox rows delivered to the live feed", registry=registry
    )
    for cid in ctx.routing.cameras:
        camera = ctx.analysis.status(cid)
        camera_up.labels(cid).set(1 if camera["state"] == "online" else 0)
        analysed.labels(cid).set(camera["analysed_frames"])
    feed_clients.set(ctx.broadcaster.subscriber_count)
    delivered.set(ctx.relay.delivered)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
