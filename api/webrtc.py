"""Live video to the wall over WebRTC (aiortc), offered and answered through a WHEP-shaped endpoint.

One pull per camera. An RTSP camera is passed through from the analysis role's own connection (its
RtspSource's PacketFanout): the H.264 packets as the camera sent them, no decoding or encoding per viewer,
each viewer starting at a keyframe with a bounded queue of its own, so a slow viewer loses pictures, never
analysis time. Only a camera this process does not analyse gets a pull of the hub's own (packets only),
and the password in its URL is filled in only for that source. File sources (the demo) are our own
decoded frames, encoded by aiortc once and fanned out with MediaRelay. A data channel carries the current
detections so the browser draws boxes and zones over the video.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import aioice.ice
import av
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.contrib.media import MediaRelay
from aiortc.exceptions import OperationError
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from detect.analysis.live import LiveView
from detect.analysis.node import AnalysisNode
from ingest.packets import CLOCK_RATE, PacketFanout, Subscription
from ingest.psrtp import PsRtpSource
from ingest.sources import RtspSource
from ingest.urls import mask_url
from models.clock import Clock, SystemClock
from models.records import Camera
from models.secrets import expand_source

logger = logging.getLogger(__name__)

#: Viewers per camera before new offers are refused: each costs bandwidth (and CPU for file sources).
MAX_VIEWERS_PER_CAMERA = 16
DETECTIONS_PERIOD_S = 0.25
_WALL_CLOCK = SystemClock()
_VIDEO_CLOCK = 90_000
_H264_ONLY = [
    codec
    for codec in RTCRtpSender.getCapabilities("video").codecs
    if codec.mimeType.lower() in ("video/h264", "video/rtx")
]


def offer_loopback_only() -> None:
    """Gather ICE candidates on 127.0.0.1 alone (aioice skips loopback by default).

    For installations bound to loopback (the demo, tests): the browser is on the same machine, and no
    candidate may point at another address. Process-wide, as aioice has no per-connection setting.
    """
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"] if use_ipv4 else []


class FrameTrack(VideoStreamTrack):
    """The newest decoded frame of a camera, at up to ``fps`` frames per second."""

    def __init__(self, latest: Callable[[], Any], fps: float = 10.0) -> None:
        super().__init__()
        self._latest = latest
        self._period = 1.0 / fps
        self._started: float | None = None
        self._sent = 0

    async def recv(self) -> av.VideoFrame:
        if self._started is None:
            self._started = time.monotonic()
        self._sent += 1
        due = self._started + self._sent * self._period
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        image = self._latest()
        while image is None:
            await asyncio.sleep(0.1)
            image = self._latest()
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = int(self._sent * self._period * _VIDEO_CLOCK)
        frame.time_base = fractions.Fraction(1, _VIDEO_CLOCK)
        return frame


class PacketTrack(MediaStreamTrack):
    """One viewer's passed-through H.264: av.Packets, as ``MediaPlayer(decode=False)`` yields them.

    Follows the camera's current fan-out: when the analysis restarts the camera with a new source, the
    viewer re-subscribes and carries on at its next keyframe, its timestamps still going forward.
    """

    kind = "video"

    def __init__(self, fanout: Callable[[], PacketFanout | None]) -> None:
        super().__init__()
        self._fanout = fanout
        self.subscription: Subscription | None = None
        self._offset: int | None = None  # added to the current subscription's pts
        self._last = -1

    async def recv(self) -> av.Packet[Any]:
        while self.readyState == "live":
            if self.subscription is None:
                fanout = self._fanout()
                if fanout is None:
                    await asyncio.sleep(0.2)
                    continue
                self.subscription = fanout.subscribe()
                self._offset = None
            item = await self.subscription.get()
            if item is None:
                self.subscription = None
                if self.readyState == "live":
                    await asyncio.sleep(0.2)  # the source was closed: wait for the camera's next one
                continue
            if self._offset is None:
                # One frame after the last one sent (the gap is real time the viewer saw nothing).
                self._offset = self._last + CLOCK_RATE // 25 - item.pts
            packet = av.Packet(item.data)
            packet.pts = self._last = item.pts + self._offset
            packet.time_base = fractions.Fraction(1, CLOCK_RATE)
            return packet
        raise MediaStreamError

    def stop(self) -> None:
        super().stop()
        if self.subscription is not None:
            self.subscription.close()


@dataclass
class _CameraFeed:
    """A file camera's frames, encoded once per viewer by aiortc, relayed from one FrameTrack."""

    relay: MediaRelay
    track: Any
    sessions: set[str] = field(default_factory=set)


@dataclass
class Session:
    id: str
    camera_id: str
    pc: RTCPeerConnection
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    track: PacketTrack | None = None


class OfferRejected(ValueError):
    """The browser's offer cannot be answered (malformed SDP, no video, …)."""


def detections_message(camera: Camera, view: LiveView | None) -> dict[str, Any]:
    """What the data channel sends: boxes in frame pixels, and the zones to outline."""
    frame = view.frame if view is not None else None
    height, width = (
        frame.image.shape[:2] if frame is not None else (camera.frame_size[1], camera.frame_size[0])
    )
    return {
        "camera_id": camera.id,
        "frame": frame.index if frame is not None else None,
        "size": [width, height],
        "boxes": [
            {"xyxy": [round(v, 1) for v in d.xyxy], "label": d.label, "confidence": round(d.confidence, 2)}
            for d in (view.detections if view is not None else [])
        ],
        "zones": [{"name": z.name, "kind": z.kind.value, "polygon": z.polygon_px} for z in camera.zones],
    }


class WebRTCHub:
    """Peer connections of all viewers over the analysis role's sources: one media pull per camera."""

    def __init__(self, analysis: AnalysisNode, clock: Clock | None = None) -> None:
        self._analysis = analysis
        self._clock = clock
        self._feeds: dict[str, _CameraFeed] = {}
        #: Pulls of the hub's own, for RTSP cameras this process does not analyse.
        self._pulls: dict[str, RtspSource] = {}
        self.sessions: dict[str, Session] = {}

    def _latest_image(self, camera_id: str) -> Callable[[], Any]:
        def latest() -> Any:
            view = self._analysis.live.get(camera_id)
            return view.frame.image if view is not None and view.frame is not None else None

        return latest

    def _analysed_source(self, camera_id: str) -> RtspSource | PsRtpSource | None:
        view = self._analysis.live.get(camera_id)
        source = view.source if view is not None else None
        return source if isinstance(source, RtspSource | PsRtpSource) and not source.closed else None

    def fanout(self, camera_id: str) -> PacketFanout | None:
        """The packets of the camera's one pull now: the analysis role's, else the hub's own."""
        source = self._analysed_source(camera_id)
        if source is not None:
            return source.packets
        pull = self._pulls.get(camera_id)
        return pull.packets if pull is not None else None

    def _passthrough(self, camera: Camera) -> bool:
        """Whether the camera's packets can go to the browser as they are (H.264 over RTSP)."""
        source = camera.source.strip().lower()
        fanout = self.fanout(camera.id)
        if source.startswith("gb28181://"):
            # A GB/T 28181 channel is invited by the analysis alone: its packets, or its decoded frames.
            return fanout is not None and fanout.codec in (None, "h264")
        if not source.startswith(("rtsp://", "rtsps://")):
            return False
        # An H.265 camera: its decoded frames, encoded by aiortc (the browser takes H.264 and VP8).
        return fanout is None or fanout.codec in (None, "h264")

    def _ensure_pull(self, camera: Camera) -> None:
        """Open the hub's own pull when no analysis pull is or will be there; the camera's only one."""
        if camera.id in self._analysis.running or camera.id in self._pulls:
            return  # the analysis loop's source (maybe still opening) is the camera's one pull
        try:
            # The password is filled in here, for the source that opens the URL, and nowhere else.
            url = expand_source(camera.source, os.environ)
        except KeyError as exc:
            raise OfferRejected(f"camera {camera.id} cannot be opened: {exc.args[0]}") from None
        # Opening and reading happen on the source's thread, bounded by its timeouts: never on the loop.
        pull = RtspSource(camera.id, url, self._clock or _WALL_CLOCK, decode=False)
        pull.start()
        self._pulls[camera.id] = pull
        logger.info("webrtc: camera %s is not analysed here; pulling %s", camera.id, mask_url(camera.source))

    def _frame_feed(self, camera: Camera) -> _CameraFeed:
        feed = self._feeds.get(camera.id)
        if feed is None:
            feed = _CameraFeed(MediaRelay(), FrameTrack(self._latest_image(camera.id)))
            self._feeds[camera.id] = feed
        return feed

    def viewers(self, camera_id: str) -> int:
        return sum(1 for s in self.sessions.values() if s.camera_id == camera_id)

    async def answer(self, camera: Camera, offer_sdp: str) -> tuple[Session, str]:
        if "m=video" not in offer_sdp:
            raise OfferRejected("the offer has no video section (m=video)")
        if self.viewers(camera.id) >= MAX_VIEWERS_PER_CAMERA:
            raise OfferRejected(f"camera {camera.id} already has {MAX_VIEWERS_PER_CAMERA} viewers")
        passthrough = self._passthrough(camera)
        if passthrough:
            self._ensure_pull(camera)
        # No STUN/TURN servers: aiortc's default would ask a public STUN server.
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        session = Session(uuid.uuid4().hex, camera.id, pc)
        self.sessions[session.id] = session
        try:
            track: MediaStreamTrack
            if passthrough:
                session.track = track = PacketTrack(partial(self.fanout, camera.id))
            else:
                feed = self._frame_feed(camera)
                feed.sessions.add(session.id)
                track = feed.relay.subscribe(feed.track, buffered=False)
            # Added before the offer is applied, so that the offer's video section takes this transceiver
            # and its codec preferences.
            transceiver = pc.addTransceiver(track, "sendonly")
            if passthrough:
                # Passed-through packets are the camera's H.264: negotiating the browser's first choice
                # (VP8 in Chromium) would send them under the wrong payload format, and nothing would play.
                transceiver.setCodecPreferences(_H264_ONLY)
            await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
        except (ValueError, KeyError, IndexError, AssertionError, OperationError) as exc:
            await self.close(session.id)
            raise OfferRejected(f"cannot answer this offer: {exc}") from None

        @pc.on("datachannel")
        def on_datachannel(channel: Any) -> None:
            session.tasks.append(asyncio.create_task(self._send_detections(camera, channel)))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.close(session.id)

        return session, pc.localDescription.sdp

    async def offer(self, camera: Camera, offer_sdp: str) -> tuple[str, str]:
        """What the WHEP route calls: the session's id and the SDP answer (the county centre's hub
        forwards the offer to the node that analyses the camera instead: api/nats/video.py)."""
        session, answer = await self.answer(camera, offer_sdp)
        return session.id, answer

    def camera_of(self, session_id: str) -> str | None:
        """The camera a session plays, None when there is no such session."""
        session = self.sessions.get(session_id)
        return session.camera_id if session is not None else None

    async def _send_detections(self, camera: Camera, channel: Any) -> None:
        with contextlib.suppress(MediaStreamError, ConnectionError):
            while channel.readyState in ("connecting", "open"):
                if channel.readyState == "open":
                    message = detections_message(camera, self._analysis.live.get(camera.id))
                    channel.send(json.dumps(message))
                await asyncio.sleep(DETECTIONS_PERIOD_S)

    async def close(self, session_id: str) -> bool:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return False
        for task in session.tasks:
            task.cancel()
        if session.track is not None:
            session.track.stop()
        await session.pc.close()
        camera_id = session.camera_id
        feed = self._feeds.get(camera_id)
        if feed is not None:
            feed.sessions.discard(session_id)
            if not feed.sessions:
                feed.track.stop()
                del self._feeds[camera_id]
        if self.viewers(camera_id) == 0 and (pull := self._pulls.pop(camera_id, None)) is not None:
            # Last viewer gone: release the hub's own pull (an analysis pull is the analysis role's).
            await pull.aclose()
        return True

    async def aclose(self) -> None:
        for session_id in list(self.sessions):
            await self.close(session_id)
        for camera_id in list(self._pulls):
            await self._pulls.pop(camera_id).aclose()
