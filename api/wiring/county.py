"""The county's processes: an analysis node of a township and the county centre, joined by NATS JetStream."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from api.auth import AuthConfig
from api.webrtc import WebRTCHub
from api.wiring.centre import Centre, build_centre
from api.wiring.system import build_analysis, build_app
from detect.analysis.node import AnalysisNode
from detect.port import Detector
from models.clock import Clock
from models.store import Store
from router.centre.links import LinkProblems

if TYPE_CHECKING:  # serve and demo never load the NATS client: build_node and build_county_centre import it
    from api.nats.commands import Assignment, KvCommands, NodeCommands
    from api.nats.health import HeartbeatPublisher, LinkMonitor
    from api.nats.leases import CameraLeases
    from api.nats.link import JetStreamIntake, JetStreamSink, Township
    from api.nats.video import Locate, VideoDirectory

logger = logging.getLogger(__name__)


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
