"""The installation itself: liveness, status, the county's time zone and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from api.deps import AdminPrincipal, AnalysisDep, ContextDep, CurrentPrincipal, RoutingDep, StoreDep
from api.responses import HealthOut, ServiceStatus, SiteOut
from api.site_metrics import ScrapeAccess, add_site_metrics
from detect.labels import blind_spots
from models.link_health import LinkHealth

router = APIRouter(tags=["meta"])


@router.get("/api/health", response_model=HealthOut)
async def health(store: StoreDep) -> dict[str, Any]:
    """Liveness for probes: no object names, so it needs no sign-in."""
    await store.counts()
    return {"status": "ok", "database": "ok"}


@router.get("/api/status", response_model=ServiceStatus, response_model_exclude_unset=True)
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


@router.get("/api/site", response_model=SiteOut)
async def site(routing: RoutingDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """What the pages need to show local time: the county's time zone."""
    return {"timezone": routing.timezone}


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def metrics(ctx: ContextDep, principal: ScrapeAccess, request: Request) -> Response:
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
    await add_site_metrics(request, registry)
    if ctx.link_health is not None:
        link_metrics(ctx.link_health, registry)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def link_metrics(health: LinkHealth, registry: CollectorRegistry) -> None:
    """The county link per township and per node, as /api/health/townships shows it."""
    township = ["township"]
    node = ["township", "node"]
    up = Gauge("gridwatch_link_up", "1 while the township's link answers", township, registry=registry)
    lag = Gauge(
        "gridwatch_link_lag_messages",
        "Township messages the centre has not handled",
        township,
        registry=registry,
    )
    lag_s = Gauge(
        "gridwatch_link_lag_seconds",
        "Seconds since the centre last held all the township published",
        township,
        registry=registry,
    )
    folded = Gauge(
        "gridwatch_link_offline_folded",
        "Camera-offline reports folded into the link problem",
        township,
        registry=registry,
    )
    cameras = Gauge("gridwatch_node_cameras", "Cameras the node runs", node, registry=registry)
    node_up = Gauge("gridwatch_node_up", "1 while the node's heartbeats come", node, registry=registry)
    load = Gauge("gridwatch_node_load", "The node machine's 1-minute load average", node, registry=registry)
    fps = Gauge("gridwatch_node_analysed_fps", "Frames the node analyses per second", node, registry=registry)
    skew = Gauge(
        "gridwatch_node_clock_skew_seconds", "The node's clock minus the centre's", node, registry=registry
    )
    skewed = Gauge(
        "gridwatch_node_clock_skewed", "1 when the skew is past the site's threshold", node, registry=registry
    )
    for row in health.townships():
        up.labels(row.code).set(1 if row.link_up else 0)
        lag.labels(row.code).set(row.lag_messages)
        lag_s.labels(row.code).set(row.lag_s)
        folded.labels(row.code).set(row.offline_folded)
        for n in row.nodes:
            cameras.labels(row.code, n.node_id).set(n.cameras)
            node_up.labels(row.code, n.node_id).set(0 if n.stale else 1)
            load.labels(row.code, n.node_id).set(n.load)
            fps.labels(row.code, n.node_id).set(n.analysed_fps)
            skew.labels(row.code, n.node_id).set(n.skew_s)
            skewed.labels(row.code, n.node_id).set(1 if n.skewed else 0)
