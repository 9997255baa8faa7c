"""Live video to the wall over WebRTC (aiortc), offered and answered through a WHEP-shaped endpoint.

One pull per camera, fanned out to every viewer with MediaRelay. RTSP cameras are passed through
(H.264 packets as the camera sent them: no decoding, no encoding per viewer); file sources (the demo)
are our own decoded frames, encoded by aiortc. A data channel carries the current detections so the
browser draws boxes and zones over the video.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
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
from aiortc.contrib.media import MediaPlayer, MediaRelay
from aiortc.exceptions import OperationError
from aiortc.mediastreams import MediaStreamError

from detect.analysis.live import LiveView
from detect.analysis.node import AnalysisNode
from ingest.urls import mask_url
from models.records import Camera

logger = logging.getLogger(__name__)

#: Viewers per camera before new offers are refused: each costs bandwidth (and CPU for file sources).
MAX_VIEWERS_PER_CAMERA = 16
DETECTIONS_PERIOD_S = 0.25
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


@dataclass
class _CameraFeed:
    relay: MediaRelay
    track: Any
    player: MediaPlayer | None = None
    sessions: set[str] = field(default_factory=set)


@dataclass
class Session:
    id: str
    camera_id: str
    pc: RTCPeerConnection
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


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
    """Peer connections of all viewers, one media pull per camera, over the analysis role's live views."""

    def __init__(self, analysis: AnalysisNode) -> None:
        self._analysis = analysis
        self._feeds: dict[str, _CameraFeed] = {}
        self.sessions: dict[str, Session] = {}

    def _latest_image(self, camera_id: str) -> Callable[[], Any]:
        def latest() -> Any:
            view = self._analysis.live.get(camera_id)
            return view.frame.image if view is not None and view.frame is not None else None

        return latest

    def _feed(self, camera: Camera) -> _CameraFeed:
        feed = self._feeds.get(camera.id)
        if feed is None:
            if camera.source.startswith(("rtsp://", "rtsps://")):
                player = MediaPlayer(
                    camera.source, format="rtsp", options={"rtsp_transport": "tcp"}, decode=False
                )
                logger.info("webrtc: passing through %s", mask_url(camera.source))
                feed = _CameraFeed(MediaRelay(), player.video, player)
            else:
                feed = _CameraFeed(MediaRelay(), FrameTrack(self._latest_image(camera.id)))
            self._feeds[camera.id] = feed
        return feed

    def viewers(self, camera_id: str) -> int:
        feed = self._feeds.get(camera_id)
        return len(feed.sessions) if feed else 0

    async def answer(self, camera: Camera, offer_sdp: str) -> tuple[Session, str]:
        if "m=video" not in offer_sdp:
            raise OfferRejected("the offer has no video section (m=video)")
        if self.viewers(camera.id) >= MAX_VIEWERS_PER_CAMERA:
            raise OfferRejected(f"camera {camera.id} already has {MAX_VIEWERS_PER_CAMERA} viewers")
        # No STUN/TURN servers: aiortc's default would ask a public STUN server.
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        session = Session(uuid.uuid4().hex, camera.id, pc)
        feed = self._feed(camera)
        try:
            # Added before the offer is applied, so that the offer's video section takes this transceiver
            # and its codec preferences.
            transceiver = pc.addTransceiver(feed.relay.subscribe(feed.track, buffered=False), "sendonly")
            if feed.player is not None:
                # Passed-through packets are the camera's H.264: negotiating the browser's first choice
                # (VP8 in Chromium) would send them under the wrong payload format, and nothing would play.
                transceiver.setCodecPreferences(_H264_ONLY)
            await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
        except (ValueError, KeyError, IndexError, AssertionError, OperationError) as exc:
            await pc.close()
            raise OfferRejected(f"cannot answer this offer: {exc}") from None
        feed.sessions.add(session.id)
        self.sessions[session.id] = session

        @pc.on("datachannel")
        def on_datachannel(channel: Any) -> None:
            session.tasks.append(asyncio.create_task(self._send_detections(camera, channel)))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.close(session.id)

        return session, pc.localDescription.sdp

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
        await session.pc.close()
        feed = self._feeds.get(session.camera_id)
        if feed is not None:
            feed.sessions.discard(session_id)
            if not feed.sessions:
                # Last viewer gone: release the camera pull too.
                if feed.player is not None and feed.player.video is not None:
                    feed.player.video.stop()
                del self._feeds[session.camera_id]
        return True

    async def aclose(self) -> None:
        for session_id in list(self.sessions):
            await self.close(session_id)
