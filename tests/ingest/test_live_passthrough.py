"""The wall's live video from the camera's one pull: the real GStreamer RTSP server (Basic auth), the
analysis role as ``serve`` builds it, and an aiortc viewer that decodes what it receives.

RTSP sessions are counted as established TCP connections to the server's port (``ss``): with TCP
transport the server holds one connection per client session.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import av
import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from api.site import DEMO_PASSWORD
from api.webrtc import WebRTCHub, offer_loopback_only
from api.wiring import build_analysis
from detect.analysis.node import AnalysisNode
from detect.backends.scripted import ScriptedDetector
from ingest.frames import Frame
from ingest.sources import RtspSource
from models.clock import SystemClock
from models.db import Database
from models.link import AnalysisMessage
from models.records import Camera, Mount
from tests.ingest.conftest import SERVER_PASSWORD
from tests.ingest.rtsp_peer import RtspPeer
from tests.servers import in_process_api

pytestmark = [pytest.mark.slow, pytest.mark.waits]

PASSWORD_ENV = "GW_TEST_LIVE_RTSP_PASSWORD"


class NullSink:
    async def publish(self, message: AnalysisMessage) -> None:
        return None


def rtsp_sessions(port: int) -> int:
    """Established TCP connections to the RTSP server's port, from any process on this machine."""
    ss = shutil.which("ss")
    if ss is None:
        pytest.skip("ss (iproute2) is not installed")
    out = subprocess.run(
        [ss, "-Htn", "state", "established", f"( dport = :{port} )"],
        check=True,
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout
    return len(out.splitlines())


def password_camera(peer: RtspPeer) -> Camera:
    # As the site file and the registry hold it: the password is a placeholder, filled at connect time.
    return Camera(
        id="cam-pw",
        name="Gate",
        source=f"rtsp://U:${{{PASSWORD_ENV}}}@127.0.0.1:{peer.port}/cam1",
        frame_size=(640, 480),
        mount=Mount((120.1, 30.2)),
    )


@asynccontextmanager
async def analysing(cameras: list[Camera]) -> AsyncIterator[tuple[AnalysisNode, WebRTCHub]]:
    analysis = build_analysis(NullSink(), ScriptedDetector([]), SystemClock(), clip_seconds=None)
    hub = WebRTCHub(analysis)
    await analysis.start(cameras)
    try:
        yield analysis, hub
    finally:
        await hub.aclose()
        await analysis.stop()


@asynccontextmanager
async def viewer(hub: WebRTCHub, camera: Camera) -> AsyncIterator[MediaStreamTrack]:
    """An aiortc peer that offers recvonly video to the hub, as the wall's browser does over WHEP."""
    offer_loopback_only()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    tracks: asyncio.Queue[MediaStreamTrack] = asyncio.Queue()
    pc.on("track", tracks.put_nowait)
    pc.addTransceiver("video", direction="recvonly")
    try:
        await pc.setLocalDescription(await pc.createOffer())
        _, answer = await hub.answer(camera, pc.localDescription.sdp)
        assert "H264/90000" in answer
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        yield await asyncio.wait_for(tracks.get(), 10)
    finally:
        await pc.close()


async def decoded_frames(track: MediaStreamTrack, count: int) -> list[av.VideoFrame]:
    frames = []
    while len(frames) < count:
        frame = await track.recv()
        assert isinstance(frame, av.VideoFrame)
        frames.append(frame)
    return frames


async def test_a_password_camera_plays_over_webrtc_from_the_analysis_pull(
    rtsp_auth_peer: RtspPeer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(PASSWORD_ENV, SERVER_PASSWORD)
    camera = password_camera(rtsp_auth_peer)
    async with analysing([camera]) as (analysis, hub):
        deadline = time.monotonic() + 20
        while analysis.live.get(camera.id) is None or analysis.live[camera.id].analysed_frames < 1:
            assert time.monotonic() < deadline, "the analysis never got a frame of the password camera"
            await asyncio.sleep(0.1)
        async with viewer(hub, camera) as track:
            frames = await asyncio.wait_for(decoded_frames(track, 10), 30)
            analysed = analysis.live[camera.id].analysed_frames
            await asyncio.sleep(2.0)
            # Analysis and the viewer at once, over one RTSP session.
            assert analysis.live[camera.id].analysed_frames > analysed
            assert rtsp_sessions(rtsp_auth_peer.port) == 1
            session = next(iter(hub.sessions.values()))
            assert session.track is not None and session.track.subscription is not None
            assert analysis.live[camera.id].source.packets.subscribers == 1  # type: ignore[union-attr]
    assert {(f.width, f.height) for f in frames} == {(640, 480)}
    assert caplog.records
    assert SERVER_PASSWORD not in caplog.text


async def test_a_camera_not_analysed_here_gets_one_pull_for_its_viewers_released_after(
    rtsp_auth_peer: RtspPeer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(PASSWORD_ENV, SERVER_PASSWORD)
    camera = password_camera(rtsp_auth_peer)
    async with analysing([]) as (_, hub):
        async with viewer(hub, camera) as first, viewer(hub, camera) as second:
            await asyncio.wait_for(decoded_frames(first, 5), 30)
            await asyncio.wait_for(decoded_frames(second, 5), 30)
            assert rtsp_sessions(rtsp_auth_peer.port) == 1
        for session_id in list(hub.sessions):
            await hub.close(session_id)
        deadline = time.monotonic() + 10
        while rtsp_sessions(rtsp_auth_peer.port) != 0:
            assert time.monotonic() < deadline, "the last viewer left but the pull stayed open"
            await asyncio.sleep(0.2)
    assert SERVER_PASSWORD not in caplog.text


async def test_a_viewer_without_the_password_variable_is_refused_with_its_name(
    rtsp_auth_peer: RtspPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    async with analysing([]) as (_, hub):
        with pytest.raises(ValueError, match=PASSWORD_ENV):
            await hub.answer(password_camera(rtsp_auth_peer), "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n")
        assert hub.sessions == {}


async def test_a_stalled_viewer_does_not_delay_analysis_frames(rtsp_peer: RtspPeer) -> None:
    source = RtspSource("cam-rtsp", rtsp_peer.url(), SystemClock(), queue_size=500)
    frames: list[Frame] = []

    async def consume() -> None:
        async for frame in source.frames():
            frames.append(frame)

    consumer = asyncio.create_task(consume())
    try:
        deadline = time.monotonic() + 20
        while len(frames) < 5:
            assert time.monotonic() < deadline, "no frames from the RTSP server"
            await asyncio.sleep(0.1)
        source.packets.queue_limit = 5
        stalled = source.packets.subscribe()  # a viewer that never reads
        reading = source.packets.subscribe()
        decoder = av.CodecContext.create("h264", "r")
        pictures: list[av.VideoFrame] = []
        began, before = time.monotonic(), len(frames)
        while time.monotonic() - began < 6:
            packet = await asyncio.wait_for(reading.get(), 5)
            assert packet is not None
            if not pictures:
                assert packet.keyframe, "a viewer must start at a keyframe"
            pictures.extend(decoder.decode(av.Packet(packet.data)))  # type: ignore[arg-type]
            assert len(stalled) <= 5
        elapsed = time.monotonic() - began
        analysed = frames[before:]
    finally:
        consumer.cancel()
        await asyncio.wait([consumer])
        await source.aclose()
    assert stalled.restarts >= 1 and stalled.dropped > 0
    # The server sends 10 fps; the analysis side kept getting them while a viewer stalled.
    assert len(analysed) >= 0.7 * 10 * elapsed, (len(analysed), elapsed)
    gaps = [(b.captured_at - a.captured_at).total_seconds() for a, b in itertools.pairwise(analysed)]
    assert max(gaps) < 1.0, max(gaps)
    assert pictures and {(p.width, p.height) for p in pictures} == {(640, 480)}


async def test_serve_plays_a_password_camera_over_whep_on_the_analysis_pull(
    rtsp_auth_peer: RtspPeer,
    postgres: Database,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The system ``serve`` builds (build_system, uvicorn): a signed-in wall's WHEP offer plays the
    password camera the analysis runs, over the analysis role's RTSP session."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(PASSWORD_ENV, SERVER_PASSWORD)
    source = password_camera(rtsp_auth_peer).source
    with in_process_api(
        postgres.url,
        "gw_live_passthrough",
        detector=ScriptedDetector([]),
        clock=SystemClock(),
        camera_source=source,
        start_cameras=True,
    ) as api:
        camera_id = next(iter(api.system.analysis.cameras))
        deadline = time.monotonic() + 30
        while rtsp_sessions(rtsp_auth_peer.port) < 1:
            assert time.monotonic() < deadline, "the analysis never connected to the camera"
            await asyncio.sleep(0.2)
        offer_loopback_only()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        tracks: asyncio.Queue[MediaStreamTrack] = asyncio.Queue()
        pc.on("track", tracks.put_nowait)
        pc.addTransceiver("video", direction="recvonly")
        async with httpx.AsyncClient(base_url=api.base, timeout=20) as client:
            token = await client.post(
                "/api/auth/token", json={"username": "command", "password": DEMO_PASSWORD}
            )
            client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            try:
                await pc.setLocalDescription(await pc.createOffer())
                answer = await client.post(
                    f"/api/cameras/{camera_id}/whep",
                    content=pc.localDescription.sdp,
                    headers={"Content-Type": "application/sdp"},
                )
                assert answer.status_code == 201, answer.text
                assert "H264/90000" in answer.text
                await pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
                track = await asyncio.wait_for(tracks.get(), 10)
                frames = await asyncio.wait_for(decoded_frames(track, 5), 30)
                assert rtsp_sessions(rtsp_auth_peer.port) == 1
                assert (await client.delete(answer.headers["Location"])).status_code == 204
            finally:
                await pc.close()
    assert {(f.width, f.height) for f in frames} == {(640, 480)}
    assert SERVER_PASSWORD not in caplog.text
