"""Live video across the link (api/nats/video.py): the wall's WHEP offer goes to the centre, which forwards
it to the node analysing the camera; an aiortc viewer then decodes the camera's pictures, sent by the node
from its analysis pull of a password-protected RTSP camera (the real GStreamer server, Basic auth): one
RTSP session for analysis and the wall, no peer connection at the centre, the password never there."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import Any

import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from api.auth import AuthConfig
from api.cli.county import NodeVideo, running_centre, running_node
from api.nats.link import Township
from api.nats.servers import NatsServer
from api.site import DEMO_PASSWORD, demo_site, load_site, seed_demo_users
from api.webrtc import offer_loopback_only
from detect.backends.scripted import ScriptedDetector
from models.clock import SystemClock
from models.store import Store
from tests.ingest.conftest import SERVER_PASSWORD, rtsp_auth_peer, rtsp_available, rtsp_peer_factory  # noqa: F401
from tests.ingest.rtsp_peer import RtspPeer
from tests.ingest.test_live_passthrough import PASSWORD_ENV, decoded_frames, rtsp_sessions
from tests.servers import free_port

pytestmark = pytest.mark.slow

TOWNSHIP = "379901001"
SECRET = "video-token-for-this-test-0123456789"


async def test_the_centre_plays_a_township_camera_from_its_node(
    nats_server: NatsServer,
    store: Store,
    rtsp_auth_peer: RtspPeer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    site = demo_site()
    source = f"rtsp://U:${{{PASSWORD_ENV}}}@127.0.0.1:{rtsp_auth_peer.port}/cam1"
    camera = replace(site.cameras[0], source=source)
    await load_site(store, replace(site, cameras=[camera]))
    await seed_demo_users(store)
    # The password is in the node's environment (the township's); the centre only relays the offer.
    monkeypatch.setenv(PASSWORD_ENV, SERVER_PASSWORD)
    video = NodeVideo("127.0.0.1", free_port(), SECRET)
    townships = [Township(TOWNSHIP)]
    clock = SystemClock()
    auth = AuthConfig.for_demo()
    options: dict[str, Any] = {
        "hub_domain": None,
        "clip_seconds": None,
        "video": video,
        "node_id": "chengguan-1",
    }
    async with (
        running_centre(nats_server.url, store, clock, auth, townships, video_secret=SECRET) as centre,
        running_node(nats_server.url, TOWNSHIP, ScriptedDetector([]), clock, **options) as node,
    ):
        assert node.webrtc is not None
        deadline = time.monotonic() + 40
        while camera.id not in node.analysis.cameras or rtsp_sessions(rtsp_auth_peer.port) < 1:
            assert time.monotonic() < deadline, "the node never opened the camera"
            await asyncio.sleep(0.2)
        transport = httpx.ASGITransport(app=centre.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://centre", timeout=30) as wall:
            token = await wall.post(
                "/api/auth/token", json={"username": "command", "password": DEMO_PASSWORD}
            )
            wall.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            offer_loopback_only()
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            tracks: asyncio.Queue[MediaStreamTrack] = asyncio.Queue()
            pc.on("track", tracks.put_nowait)
            pc.addTransceiver("video", direction="recvonly")
            try:
                await pc.setLocalDescription(await pc.createOffer())
                while True:  # until the node has put the camera in its township's video directory
                    answer = await wall.post(
                        f"/api/cameras/{camera.id}/whep",
                        content=pc.localDescription.sdp,
                        headers={"Content-Type": "application/sdp"},
                    )
                    if answer.status_code != 422 or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.5)
                assert answer.status_code == 201, answer.text
                assert "H264/90000" in answer.text
                await pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
                track = await asyncio.wait_for(tracks.get(), 10)
                frames = await asyncio.wait_for(decoded_frames(track, 5), 30)
                # The node holds the peer connection; the centre only relayed the offer.
                assert len(node.webrtc.sessions) == 1 and centre.webrtc is not None
                assert centre.webrtc.sessions == {}
                # Analysis and the wall over the camera's one RTSP session, the node's.
                assert rtsp_sessions(rtsp_auth_peer.port) == 1
                assert (await wall.delete(answer.headers["Location"])).status_code == 204
                assert node.webrtc.sessions == {}
                # The node leaves the video directory (a clean stop): the centre refuses with the reason
                # rather than opening a second RTSP session of its own.
                assert node._video is not None and node.video is not None
                node._video.cancel()
                await node.video.withdraw()
                gone = await wall.post(
                    f"/api/cameras/{camera.id}/whep",
                    content=pc.localDescription.sdp,
                    headers={"Content-Type": "application/sdp"},
                )
                assert gone.status_code == 422 and "no node of township 379901001" in gone.text, gone.text
                assert rtsp_sessions(rtsp_auth_peer.port) == 1
            finally:
                await pc.close()
        # The node's port answers only the centre's token.
        async with httpx.AsyncClient(timeout=10) as stranger:
            refused = await stranger.post(f"{video.url}/whep/{camera.id}", content="v=0", headers={})
            assert refused.status_code == 401
    assert {(f.width, f.height) for f in frames} == {(640, 480)}
    assert SERVER_PASSWORD not in caplog.text
