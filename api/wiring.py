"""The one module that builds the running system: the analysis role, the centre role, or both in one process.

    cameras ─► AnalysisNode ──EventReport/ClipReport──► link ──► Intake ─► EventWriter ─► PostgreSQL
               (detect/analysis)      (models/link.py)  (api/link.py)  (router/centre)      │ outbox
                    ▲                                                                     ▼
                    └──────── RunCamera/StopCamera ◄── CameraRegistry     OutboxRelay ─► live feed (SSE)
                                                                          Notifier ─► webhook/WeCom/DingTalk
                                                        Escalator ◄─ timers (deadlines)

Every worker is constructed here and handed its collaborators; none reaches through another to a store.
``serve`` and ``demo`` run both roles joined by an in-process queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from api.app import create_app
from api.auth import AuthConfig
from api.deps import AppContext
from api.health import LocalHealth
from api.link import InProcessLink
from api.mqtt import CameraStates, MqttLink, MqttSettings, analysed_cameras
from api.webrtc import WebRTCHub
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
from models.clock import Clock, SystemClock
from models.config.gb28181 import Gb28181Section
from models.gb28181 import SOURCE_SCHEME
from models.link import CommandSink, EventSink
from models.link_health import LinkHealth
from models.records import Camera, EventKind
from models.secrets import expand_secret
from models.store import Store
from router.centre.bell import OutboxBell
from router.centre.casework import Casework
from router.centre.escalator import Escalator
from router.centre.false_alarms import FalseAlarms
from router.centre.feed import Broadcaster, OutboxRelay
from router.centre.gb28181 import GbDesk, GbService, UpperReporter
from router.centre.intake import Intake
from router.centre.links import LinkProblems
from router.centre.mqtt import MqttRelay
from router.centre.notifier import Notifier
from router.centre.registry import CameraRegistry
from router.centre.retention import Retention, StorageGuard, free_space_of
from router.centre.robots import RobotNotifier
from router.centre.rosters import Handover, RosterDesk, RosterWatch
from router.centre.routing import Routing
from router.centre.verifier import Verifier
from router.centre.writer import EventWriter
from router.deadlines import DEFAULT_POLICY, DeadlinePolicy
from router.notify.channels import Channel
from router.notify.robots import ROBOT_KINDS
from router.policies import Policies
from router.retention import DEFAULT_RETENTION, RetentionPolicy
from router.verification import CLEAR_WINDOWS

if TYPE_CHECKING:  # serve and demo never load the NATS client: build_node and build_county_centre import it
    from api.nats.commands import Assignment, KvCommands, NodeCommands
    from api.nats.health import HeartbeatPublisher, LinkMonitor
    from api.nats.leases import CameraLeases
    from api.nats.link import JetStreamIntake, JetStreamSink, Township
    from api.nats.video import Locate, VideoDirectory
    from ingest.gb28181.transport import Peer

logger = logging.getLogger(__name__)

#: How long a camera may be down before a maintenance incident is opened for it.
OFFLINE_AFTER_S = 300.0


@dataclass
class Centre:
    """The centre role: intake of events, the store's outbox to the feed and the chat robots, deadlines."""

    store: Store
    routing: Routing
    writer: EventWriter
    intake: Intake
    broadcaster: Broadcaster
    relay: OutboxRelay
    escalator: Escalator
    notifier: Notifier | None
    casework: Casework
    registry: CameraRegistry
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _intake: asyncio.Task[None] | None = None
    #: Camera-verified closure of resolved cases (router/centre/verifier.py).
    verifier: Verifier | None = None
    #: The centre's time: what the KPIs judge open deadlines against.
    clock: Clock = field(default_factory=SystemClock)
    #: Live rosters: reloads what any process changed; moves waiting cases at a shift's end; the API's desk.
    roster_watch: RosterWatch | None = None
    handover: Handover | None = None
    rosters: RosterDesk | None = None
    #: Evidence retention and the free-space watch that pauses clips (router/centre/retention.py).
    retention: Retention | None = None
    #: Incidents, events and availability to an MQTT broker (api/mqtt.py, router/centre/mqtt.py).
    mqtt_link: MqttLink | None = None
    mqtt_relay: MqttRelay | None = None
    #: WeCom and DingTalk group robots within their limits (router/centre/robots.py); notifier has the rest.
    robots: RobotNotifier | None = None

    async def start(self, *, workers: bool = True) -> None:
        """Load the site into the router; with ``workers``, start the feed relay, escalator and notifier."""
        await self.routing.load()
        self.writer.start()
        if workers:
            self._spawn(self.relay.run(), "outbox-relay")
            self._spawn(self.escalator.run(), "escalator")
            if self.notifier is not None:
                self._spawn(self.notifier.run(), "notifier")
            if self.verifier is not None:
                self._spawn(self.verifier.run(), "verifier")
            if self.roster_watch is not None:
                self._spawn(self.roster_watch.run(), "roster-watch")
            if self.handover is not None:
                self._spawn(self.handover.run(), "handover")
            if self.retention is not None:
                self._spawn(self.retention.run(), "retention")
            if self.robots is not None:
                self._spawn(self.robots.run(), "robots")
            if self.mqtt_link is not None and self.mqtt_relay is not None:
                await self.mqtt_relay.register()  # before the intake runs: no change may miss the broker
                self._spawn(self.mqtt_link.run(), "mqtt-link")
                self._spawn(self.mqtt_relay.run(), "mqtt-relay")

    def consume(self, link: InProcessLink) -> None:
        """Take the analysis role's messages from an in-process link until it closes."""
        self._intake = asyncio.create_task(
            self.intake.run(link.messages(), handled=link.handled), name="intake"
        )

    def consume_stream(self, stream: JetStreamIntake) -> None:
        """Take the nodes' messages from the county's JetStream stream, acking each once it is settled."""
        self._intake = asyncio.create_task(
            self.intake.run(stream.messages(), settled=stream.settled, at_once=stream.in_flight),
            name="intake",
        )

    async def stop(self) -> None:
        """Stop the workers; intake first drains what its link still holds (close the link before)."""
        if self._intake is not None:
            await asyncio.gather(self._intake, return_exceptions=True)
            self._intake = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.writer.aclose()
        if self.notifier is not None:
            await self.notifier.aclose()
        if self.robots is not None:
            await self.robots.aclose()

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(work, name=name))


def build_centre(
    store: Store,
    clock: Clock,
    analysis: CommandSink,
    *,
    timezone: str = "Asia/Shanghai",
    channels: Sequence[Channel] = (),
    policy: DeadlinePolicy = DEFAULT_POLICY,
    policies: Policies | None = None,
    clear_windows: Mapping[EventKind, timedelta] = CLEAR_WINDOWS,
    roster_recheck_s: float = 30.0,
    handover_every_s: float = 30.0,
    camera_events: CameraEventTable | None = None,
    retention: RetentionPolicy = DEFAULT_RETENTION,
    storage_dir: Path | None = None,
    mqtt: MqttSettings | None = None,
    camera_states: CameraStates | None = None,
) -> Centre:
    """``policies`` (the site file's) supplies triage, deadlines, filing, dedup cell and snap distance.
    ``storage_dir``: where the embedded database lives, whose free space decides whether clips are kept."""
    if policies is not None:
        policy = policies.deadlines
        clear_windows = policies.clear_windows
    bell = OutboxBell()
    routing = Routing(store, timezone=timezone, policy=policy, policies=policies)
    writer = EventWriter(store.events)
    broadcaster = Broadcaster()
    relay = OutboxRelay(store.outbox, store.incidents, broadcaster)
    bell.listen(relay.wake)
    hooks = [c for c in channels if c.kind not in ROBOT_KINDS]
    notifier = Notifier(store.deliveries, store.incidents, clock, hooks) if hooks else None
    if notifier is not None:
        bell.listen(notifier.wake)
    bots = [c for c in channels if c.kind in ROBOT_KINDS]
    robots = RobotNotifier(store.deliveries, store.incidents, clock, bots) if bots else None
    if robots is not None:
        bell.listen(robots.wake)
    intake = Intake(routing, writer, store, bell, camera_events=camera_events or CameraEventTable())
    casework = Casework(store, clock, bell, routing, policy=policy)
    # The camera verifies what people resolve: resolutions go out as WatchZone, answers come back by intake.
    verifier = Verifier(store, clock, casework, analysis, windows=clear_windows)
    casework.on_resolved(verifier.resolved)
    intake.zone_reports = verifier.report
    # A fire/smoke case rejected as a false alarm silences its region on its camera (SuppressRegion).
    casework.on_rejected(FalseAlarms(store, clock, analysis, policies=policies).rejected)
    guard = StorageGuard()
    keeper = Retention(store, clock, retention, guard, free_space_of(storage_dir))
    intake.storage, intake.on_disk_full = guard, keeper.disk_full
    mqtt_link: MqttLink | None = None
    mqtt_relay: MqttRelay | None = None
    if mqtt is not None:
        mqtt_link = MqttLink(mqtt, cameras=camera_states)
        mqtt_relay = MqttRelay(store, mqtt_link, clock, prefix=mqtt.prefix)
        bell.listen(mqtt_relay.wake)
        mqtt_link.on_connect(mqtt_relay.wake)
    return Centre(
        store=store,
        routing=routing,
        writer=writer,
        intake=intake,
        broadcaster=broadcaster,
        relay=relay,
        escalator=Escalator(store.timers, clock, routing.roster, bell, policy=policy),
        notifier=notifier,
        casework=casework,
        registry=CameraRegistry(store, routing, analysis),
        verifier=verifier,
        clock=clock,
        roster_watch=RosterWatch(store, routing, recheck_s=roster_recheck_s),
        handover=Handover(store, casework, routing, clock, poll_s=handover_every_s),
        rosters=RosterDesk(store, routing),
        retention=keeper,
        mqtt_link=mqtt_link,
        mqtt_relay=mqtt_relay,
        robots=robots,
    )


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


@dataclass
class Node:
    """``gridwatch node``: the analysis role for the township cameras it owns, publishing into the township's
    JetStream stream (api/nats), following the township's command bucket.

    With ``leases``, the nodes of a township share its cameras (api/nats/leases.py): this node runs a camera
    only while it holds the camera's lease, so a node that dies loses its cameras to the others within a
    lease period or two, and a node that joins takes a share.
    """

    analysis: AnalysisNode
    sink: JetStreamSink
    commands: NodeCommands
    leases: CameraLeases | None = None
    #: With leases: the cameras the site file pins to this node (run without a lease), and every camera
    #: pinned to any node (never shared out by the leases).
    pinned: frozenset[str] = frozenset()
    unshared: frozenset[str] = frozenset()
    #: Live video for the centre's wall (api/nats/video.py): the WHEP hub over this node's analysis pulls,
    #: and its entries in the township's video directory.
    webrtc: WebRTCHub | None = None
    video: VideoDirectory | None = None
    _follow: asyncio.Task[None] | None = None
    _hold: asyncio.Task[None] | None = None
    heartbeat: HeartbeatPublisher | None = None
    _video: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start analysing: the cameras come from the command bucket, its current state first."""
        await self.analysis.start(())
        leases = self.leases
        if leases is not None:
            from api.nats.commands import LeasedAssignment

            assignment = LeasedAssignment(self.pinned)
            await self.commands.reassign(assignment)

            async def acquire(camera_id: str) -> None:
                assignment.held.add(camera_id)
                await self.commands.reassign(assignment)

            async def release(camera_id: str) -> None:
                # The camera has stopped when this returns: only then may the lease pass to another node.
                assignment.held.discard(camera_id)
                await self.commands.reassign(assignment)

            unshared = self.unshared | self.pinned
            self.commands.on_registry = lambda ids: leases.set_cameras(ids - unshared)
            self._hold = asyncio.create_task(leases.run(acquire, release), name="node-leases")
        self._follow = asyncio.create_task(self.commands.run(), name="node-commands")
        if self.heartbeat is not None:
            self.heartbeat.start()
        if self.video is not None:
            self._video = asyncio.create_task(self.video.run(), name="node-video-directory")

    async def stop(self) -> None:
        """Stop following commands, hand the leases back (their cameras stop first), then the cameras: their
        last events and clips still reach the leaf."""
        if self.heartbeat is not None:
            await self.heartbeat.stop()
        if self._video is not None and self.video is not None:
            self._video.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._video
            await self.video.withdraw()
        if self.webrtc is not None:
            await self.webrtc.aclose()
        for task in (self._hold, self._follow):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.leases is not None:
            await self.leases.leave()
        await self.analysis.stop()


def build_node(
    sink: JetStreamSink,
    bucket: Any,
    detector: Detector,
    clock: Clock,
    *,
    assignment: Assignment | None = None,
    leases: Any = None,
    node_id: str = "",
    township: str = "",
    lease_s: float | None = None,
    heartbeat_nats: Any = None,
    heartbeat_s: float | None = None,
    pinned: Iterable[str] = (),
    unshared: Iterable[str] = (),
    video_bucket: Any = None,
    video_url: str | None = None,
    **analysis_options: Any,
) -> Node:
    """``bucket``: the township's command KV (its leaf's mirror); ``assignment``: a fixed set (default every
    camera); or ``leases``, the township's lease bucket, which shares the cameras among its nodes, except
    ``unshared`` (pinned to some node) and plus ``pinned`` (pinned to this one). ``heartbeat_nats``: the
    connection its heartbeat goes out on, every ``heartbeat_s`` (none without)."""
    from api.nats.commands import NodeCommands, StaticAssignment
    from api.nats.health import HeartbeatPublisher
    from api.nats.leases import LEASE_S, CameraLeases

    analysis = build_analysis(sink, detector, clock, **analysis_options)
    beat = None
    if heartbeat_nats is not None:
        beat = HeartbeatPublisher(heartbeat_nats, analysis, clock, node_id, township, every_s=heartbeat_s)
    if leases is None:
        node = Node(
            analysis, sink, NodeCommands(bucket, analysis, assignment or StaticAssignment()), heartbeat=beat
        )
    else:
        held = CameraLeases(leases, node_id, township, (), lease_s=lease_s or LEASE_S)
        commands = NodeCommands(bucket, analysis, StaticAssignment([]))
        node = Node(
            analysis,
            sink,
            commands,
            held,
            heartbeat=beat,
            pinned=frozenset(pinned),
            unshared=frozenset(unshared),
        )
    if video_bucket is not None and video_url is not None:
        from api.nats.video import VideoDirectory

        node.webrtc = WebRTCHub(analysis)
        node.video = VideoDirectory(video_bucket, node_id, video_url, lambda: list(analysis.cameras))
    return node


@dataclass
class CountyCentre:
    """``gridwatch centre``: the centre role and the API, fed by the county stream, commanding the nodes."""

    centre: Centre
    stream: JetStreamIntake
    commands: KvCommands
    app: FastAPI
    #: The townships' link state, lag and nodes (api/nats/health.py); None: not watched.
    monitor: LinkMonitor | None = None
    webrtc: WebRTCHub | None = None

    async def start(self) -> None:
        """Load the site, write its cameras into the townships' buckets, then take the stream."""
        await self.centre.start()
        await self.commands.sync(self.centre.routing.cameras.values())
        if self.monitor is not None:
            await self.monitor.start()
        self.centre.consume_stream(self.stream)

    async def stop(self) -> None:
        """Stop taking messages; those in hand are stored and acked, the rest wait in the stream."""
        self.stream.close()
        if self.monitor is not None:
            await self.monitor.stop()
        if self.webrtc is not None:
            await self.webrtc.aclose()
        await self.centre.stop()


def build_county_centre(
    store: Store,
    clock: Clock,
    auth: AuthConfig,
    stream: JetStreamIntake,
    commands: KvCommands,
    idle: Detector,
    *,
    monitor_nats: Any = None,
    townships: Sequence[Township] = (),
    link_options: Mapping[str, Any] | None = None,
    video_locate: Locate | None = None,
    video_secret: str | None = None,
    **centre_options: Any,
) -> CountyCentre:
    """The centre with no cameras of its own: ``idle`` is a detector its empty analysis node never calls
    (the HTTP app's live-video routes find no local camera). With ``monitor_nats`` (the hub connection) it
    watches the ``townships``' links (``link_options``: LinkMonitor's): a cut one is one LINK_DOWN case."""
    centre = build_centre(store, clock, commands, **centre_options)
    # The stream redelivers what it could not store: a clip is retried rather than dropped.
    centre.intake.retry_clips = True
    local = build_analysis(_Refuse(), idle, clock, clip_seconds=None)
    relay = None
    if video_locate is not None and video_secret:
        from api.nats.video import NodeRelayHub

        # The wall plays a township camera from the node analysing it (api/nats/video.py).
        relay = NodeRelayHub(local, video_locate, video_secret)
    if monitor_nats is None:
        app = build_app(centre, local, auth, webrtc=relay)
        return CountyCentre(centre, stream, commands, app, webrtc=relay)
    from api.nats.health import LinkMonitor

    cameras, township_of = (lambda: centre.routing.cameras), (lambda c: commands.township_of(c))
    links = LinkProblems(centre.intake.report, cameras, township_of, store.incidents.note)
    table = centre.intake.camera_events.table if centre.intake.camera_events else None
    monitor = LinkMonitor(
        monitor_nats, townships, clock, links, camera_events=table, **dict(link_options or {})
    )
    stream.observer = monitor
    app = build_app(centre, local, auth, webrtc=relay, link_health=monitor)
    return CountyCentre(centre, stream, commands, app, monitor=monitor, webrtc=relay)


class _Refuse:
    async def publish(self, message: Any) -> None:
        raise RuntimeError("the county centre analyses no camera itself")


def build_gb28181(
    config: Gb28181Section,
    centre: Centre,
    events: EventSink,
    environ: Mapping[str, str],
    *,
    timezone: str,
    analysis: AnalysisNode | None = None,
) -> GbService:
    """The site's ``gb28181:``; KeyError naming the variable when a password's is not set. With
    ``analysis``, its channels play there: INVITE for real-time play, PS over RTP into a frame source."""
    from ingest.gb28181.cascade import UpperLink, UpperSettings
    from ingest.gb28181.invite import ChannelInviter
    from ingest.gb28181.platform import GbPlatform, PlatformSettings
    from ingest.psrtp import PortRange, PsRtpSource

    password = expand_secret(config.password, environ)
    desk = GbDesk(centre.store, centre.registry, events, centre.clock, config=config)
    settings = PlatformSettings.of(config, timezone)
    platform = GbPlatform(settings, lambda _: password, desk, **settings.endpoint(config, config.port))
    if analysis is not None and config.media.play:
        media = config.media

        def device_of(channel: str) -> tuple[str, Peer] | None:
            listed = (d for d in platform.devices.values() if d.online and channel in d.channels)
            return next(((d.id, d.peer) for d in listed), None)

        inviter = ChannelInviter(platform.endpoint, config.platform_id, config.domain, device_of)
        ports = PortRange(*media.ports, host=config.host)
        media_ip = media.ip or platform.endpoint.advertise

        def play(camera: Camera, clock: Clock) -> PsRtpSource:
            channel = camera.source.rstrip("/").rsplit("/", 1)[-1]
            return PsRtpSource(
                camera.id, channel, clock, inviter, ports, transport=media.transport, media_ip=media_ip
            )

        analysis.source_openers[SOURCE_SCHEME] = play
    if config.upper is None:
        return GbService(platform, desk)
    up = UpperSettings.of(config, config.upper, expand_secret(config.upper.password, environ))
    endpoint = settings.endpoint(config, config.upper.local_port, up.transport)
    upper = UpperLink(up, desk.upper_catalog, **endpoint)
    codes = config.alarm_codes()
    return GbService(platform, desk, upper, UpperReporter(centre.broadcaster, upper, codes, config, timezone))
