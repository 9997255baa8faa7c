"""The analysis role, the HTTP app over both roles, and both roles in one process (``serve``, ``demo``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from api.app import create_app
from api.auth import AuthConfig
from api.deps import AppContext
from api.health import LocalHealth
from api.link import InProcessLink
from api.mqtt import MqttSettings, analysed_cameras
from api.webrtc import WebRTCHub
from api.wiring.centre import Centre, build_centre
from detect.analysis.batcher import DetectionBatcher
from detect.analysis.camera_events import CameraEventFeed
from detect.analysis.clip_encoder import ClipEncoder
from detect.analysis.clips import POST_SECONDS, PRE_SECONDS
from detect.analysis.node import AnalysisNode
from detect.port import Detector
from detect.rules.fire import FIRE_EVERY_SECONDS
from ingest.camera_urls import IPNetwork
from ingest.offline import OfflineWatch
from models.camera_events import CameraEventTable
from models.clock import Clock
from models.link import EventSink
from models.link_health import LinkHealth
from models.records import Camera, EventKind
from models.store import Store
from router.notify.channels import Channel
from router.policies import Policies
from router.retention import DEFAULT_RETENTION, RetentionPolicy
from router.verification import CLEAR_WINDOWS

if TYPE_CHECKING:  # serve and demo never load the NATS client: build_node and build_county_centre import it
    pass

logger = logging.getLogger(__name__)

#: How long a camera may be down before a maintenance incident is opened for it.
OFFLINE_AFTER_S = 300.0


def build_analysis(
    sink: EventSink,
    detector: Detector,
    clock: Clock,
    *,
    fire_detector: Detector | None = None,
    fire_every_s: float = FIRE_EVERY_SECONDS,
    fire_every_s_by_camera: Mapping[str, float] | None = None,
    clip_seconds: tuple[float, float] | None = (PRE_SECONDS, POST_SECONDS),
    offline_after_s: float = OFFLINE_AFTER_S,
    camera_events: CameraEventTable | None = None,
    camera_event_options: Mapping[str, Any] | None = None,
) -> AnalysisNode:
    """Cameras whose record names an ONVIF endpoint get their own events subscribed while they run."""
    feed = CameraEventFeed(
        sink, clock, camera_events or CameraEventTable(), os.environ, **(camera_event_options or {})
    )
    return AnalysisNode(
        sink,
        DetectionBatcher(detector, name="person"),
        clock,
        offline=OfflineWatch(offline_after_s),
        clips=ClipEncoder(sink) if clip_seconds is not None else None,
        clip_seconds=clip_seconds or (PRE_SECONDS, POST_SECONDS),
        fire_batcher=DetectionBatcher(fire_detector, name="fire") if fire_detector is not None else None,
        fire_every_s=fire_every_s,
        fire_every_s_by_camera=fire_every_s_by_camera,
        camera_events=feed,
    )


def build_app(
    centre: Centre,
    analysis: AnalysisNode,
    auth: AuthConfig,
    *,
    webrtc: WebRTCHub | None = None,
    camera_subnets: tuple[IPNetwork, ...] = (),
    link_health: LinkHealth | None = None,
) -> FastAPI:
    """The HTTP app over both roles; live video plays what the analysis role last saw."""
    context = AppContext(
        store=centre.store,
        auth=auth,
        routing=centre.routing,
        casework=centre.casework,
        registry=centre.registry,
        broadcaster=centre.broadcaster,
        relay=centre.relay,
        analysis=analysis,
        webrtc=webrtc or WebRTCHub(analysis),
        camera_subnets=camera_subnets,
        clock=centre.clock,
        rosters=centre.rosters,
        retention=centre.retention,
        link_health=link_health or LocalHealth(analysis, centre.clock),
    )
    return create_app(context)


@dataclass
class System:
    """Both roles in one process, joined by an in-process queue, and the HTTP app over them."""

    link: InProcessLink
    analysis: AnalysisNode
    centre: Centre
    webrtc: WebRTCHub
    app: FastAPI

    async def start(self, cameras: Iterable[Camera] | None = None) -> None:
        """Start the centre, then the analysis of ``cameras`` (default: every camera the store holds)."""
        await self.centre.start()
        self.centre.consume(self.link)
        await self.analysis.start(self.centre.routing.cameras.values() if cameras is None else cameras)

    async def stop(self) -> None:
        """Cameras first, so their last events and clips still reach the store; then the centre."""
        await self.webrtc.aclose()
        await self.analysis.stop()
        await self.link.close()
        await self.centre.stop()


def build_system(
    store: Store,
    detector: Detector,
    clock: Clock,
    auth: AuthConfig,
    *,
    timezone: str = "Asia/Shanghai",
    channels: Sequence[Channel] = (),
    camera_subnets: tuple[IPNetwork, ...] = (),
    fire_detector: Detector | None = None,
    fire_every_s: float = FIRE_EVERY_SECONDS,
    fire_every_s_by_camera: Mapping[str, float] | None = None,
    clip_seconds: tuple[float, float] | None = (PRE_SECONDS, POST_SECONDS),
    offline_after_s: float = OFFLINE_AFTER_S,
    policies: Policies | None = None,
    clear_windows: Mapping[EventKind, timedelta] = CLEAR_WINDOWS,
    roster_recheck_s: float = 30.0,
    handover_every_s: float = 30.0,
    camera_events: CameraEventTable | None = None,
    camera_event_options: Mapping[str, Any] | None = None,
    retention: RetentionPolicy = DEFAULT_RETENTION,
    storage_dir: Path | None = None,
    mqtt: MqttSettings | None = None,
) -> System:
    if policies is not None:
        offline_after_s = policies.offline_after_s
    link = InProcessLink()
    analysis = build_analysis(
        link,
        detector,
        clock,
        fire_detector=fire_detector,
        fire_every_s=fire_every_s,
        fire_every_s_by_camera=fire_every_s_by_camera,
        clip_seconds=clip_seconds,
        offline_after_s=offline_after_s,
        camera_events=camera_events,
        camera_event_options=camera_event_options,
    )
    centre = build_centre(
        store,
        clock,
        analysis,
        timezone=timezone,
        channels=channels,
        policies=policies,
        clear_windows=clear_windows,
        roster_recheck_s=roster_recheck_s,
        handover_every_s=handover_every_s,
        camera_events=camera_events,
        retention=retention,
        storage_dir=storage_dir,
        mqtt=mqtt,
        camera_states=analysed_cameras(analysis),
    )
    webrtc = WebRTCHub(analysis)
    app = build_app(centre, analysis, auth, webrtc=webrtc, camera_subnets=camera_subnets)
    return System(link, analysis, centre, webrtc, app)
