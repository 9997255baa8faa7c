"""The incident, camera and delivery metrics of ``/metrics`` (issue 15), and who may scrape them.

``/metrics`` builds a fresh registry per scrape (api/routes/meta.py); ``add_site_metrics`` adds these
families to it, so other modules add theirs beside them without touching this one. Counters are read off
the database (models/store/prometheus.py): they are totals since the installation began, the same from
every process, and never go down across restarts.

Scraping needs no person's sign-in: Prometheus presents the key configured for it (the site file's
``metrics.api_key_env`` names the variable) as ``Authorization: Bearer KEY`` or ``?key=KEY``. A signed-in
admin, or an admin API key (X-API-Key), may read the page as well.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from api.auth import Principal, key_digest
from api.deps import AuthConfigDep, ContextDep, current_principal
from ingest.health import CameraState
from models.store import Store
from models.store.prometheus import LATENCY_BUCKETS

#: The names the dashboard (docs/grafana/gridwatch.json) and the test read; kept in one place.
OPENED = "gridwatch_incidents_opened"
ESCALATED = "gridwatch_incidents_escalated"
LATE = "gridwatch_incidents_late"
LATENCY = "gridwatch_event_to_incident_seconds"
CAMERA_STATE = "gridwatch_camera_state"
ANALYSED_FPS = "gridwatch_camera_analysed_fps"
SOURCE_FPS = "gridwatch_camera_source_fps"
ANALYSED = "gridwatch_camera_analysed"
OUTBOX_DEPTH = "gridwatch_outbox_depth"
DELIVERY_PENDING = "gridwatch_delivery_pending"
DELIVERY_FAILURES = "gridwatch_delivery_failures"
DELIVERY_GIVEN_UP = "gridwatch_delivery_given_up"


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


class FpsMeter:
    """Analysed frames per second per camera, between one scrape and the previous one of this process."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, int]] = {}

    def rate(self, camera_id: str, frames: int, now: float) -> float:
        previous = self._last.get(camera_id)
        self._last[camera_id] = (now, frames)
        if previous is None or now <= previous[0] or frames < previous[1]:
            return 0.0
        return (frames - previous[1]) / (now - previous[0])


async def _incident_families(store: Store) -> list[Metric]:
    labels = ["kind", "township"]
    opened = CounterMetricFamily(OPENED, "Incidents opened, by kind and township", labels=labels)
    escalated = CounterMetricFamily(
        ESCALATED, "Deadlines missed and escalated to the next post up, by kind and township", labels=labels
    )
    late = CounterMetricFamily(
        LATE,
        "Deadlines missed (accept, arrive, resolve), escalated or not, by kind and township",
        labels=labels,
    )
    for row in await store.prometheus.incident_counts():
        opened.add_metric([row.kind, row.township], row.opened)
        escalated.add_metric([row.kind, row.township], row.escalated)
        late.add_metric([row.kind, row.township], row.late)
    latency = HistogramMetricFamily(
        LATENCY, "From the first event's start to its incident's opening, once per incident", labels=["kind"]
    )
    for histogram in await store.prometheus.latency():
        bounds = [*(repr(b) for b in LATENCY_BUCKETS), "+Inf"]
        latency.add_metric(
            [histogram.kind], list(zip(bounds, histogram.buckets, strict=True)), histogram.total_seconds
        )
    return [opened, escalated, late, latency]


async def _delivery_families(store: Store) -> list[Metric]:
    depth = GaugeMetricFamily(OUTBOX_DEPTH, "Outbox rows not yet delivered to the live feed")
    depth.add_metric([], await store.prometheus.outbox_depth())
    pending = GaugeMetricFamily(
        DELIVERY_PENDING, "Notifications waiting for their channel", labels=["channel"]
    )
    failures = CounterMetricFamily(
        DELIVERY_FAILURES, "Delivery attempts that failed (error, timeout, rate limit)", labels=["channel"]
    )
    given_up = CounterMetricFamily(
        DELIVERY_GIVEN_UP, "Notifications given up on after their last attempt", labels=["channel"]
    )
    for row in await store.prometheus.channel_counts():
        pending.add_metric([row.channel], row.pending)
        failures.add_metric([row.channel], row.failed_attempts)
        given_up.add_metric([row.channel], row.given_up)
    return [depth, pending, failures, given_up]


def _camera_families(statuses: dict[str, dict[str, object]], meter: FpsMeter, now: float) -> list[Metric]:
    state = GaugeMetricFamily(CAMERA_STATE, "1 for the camera's current state", labels=["camera", "state"])
    fps = GaugeMetricFamily(
        ANALYSED_FPS, "Frames analysed per second since the last scrape", labels=["camera"]
    )
    source = GaugeMetricFamily(SOURCE_FPS, "Frames per second the camera delivers", labels=["camera"])
    analysed = CounterMetricFamily(ANALYSED, "Frames analysed since the process started", labels=["camera"])
    for camera_id, status in sorted(statuses.items()):
        for name in CameraState:
            state.add_metric([camera_id, str(name)], 1.0 if status.get("state") == name else 0.0)
        frames = int(status.get("analysed_frames") or 0)  # type: ignore[call-overload]
        fps.add_metric([camera_id], meter.rate(camera_id, frames, now))
        source.add_metric([camera_id], float(status.get("fps") or 0.0))  # type: ignore[arg-type]
        analysed.add_metric([camera_id], frames)
    return [state, fps, source, analysed]


async def add_site_metrics(request: Request, registry: CollectorRegistry) -> None:
    """Register the incident, camera and delivery families of this scrape on ``registry``."""
    ctx = request.app.state.context
    meter: FpsMeter | None = getattr(request.app.state, "fps_meter", None)
    if meter is None:
        meter = request.app.state.fps_meter = FpsMeter()
    statuses = {cid: ctx.analysis.status(cid) for cid in ctx.routing.cameras}
    families = [
        *await _incident_families(ctx.store),
        *_camera_families(statuses, meter, time.monotonic()),
        *await _delivery_families(ctx.store),
    ]
    registry.register(_Families(families))


def _presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.query_params.get("key")


async def scrape_access(request: Request, ctx: ContextDep, auth: AuthConfigDep) -> Principal:
    """The scrape key (Bearer or ?key=), else an admin by token, cookie or API key; 401/403 otherwise."""
    presented = _presented_key(request)
    if auth.metrics_key_sha256 and presented is not None:
        if hmac.compare_digest(key_digest(presented), auth.metrics_key_sha256):
            return Principal("metrics", "admin", "", via="metrics_key")
        if request.query_params.get("key") is not None or presented.count(".") != 2:
            # Not a signed token either (a JWT has three parts): a wrong key, said as such.
            raise HTTPException(401, "wrong metrics key", headers={"WWW-Authenticate": "Bearer"})
    header = request.headers.get("authorization", "")
    bearer = (
        HTTPAuthorizationCredentials(scheme="Bearer", credentials=header[7:].strip())
        if header.lower().startswith("bearer ")
        else None
    )
    principal = await current_principal(request, bearer, ctx.store, auth)
    if not principal.is_admin:
        raise HTTPException(403, "administrators or the metrics key only")
    return principal


ScrapeAccess = Annotated[Principal, Depends(scrape_access)]
