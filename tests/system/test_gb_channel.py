"""Acceptance 2 of issue 16, media half: a simulated GB/T 28181 channel streams PS over RTP, made by
ffmpeg from the demo video, when invited; its frames reach the detector through the camera loop and the
crowd rule opens an incident for the right grid; stopping the camera tears the stream down with BYE."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from api.site import demo_site, load_site
from api.webrtc import WebRTCHub
from api.wiring import build_analysis
from detect.backends.factory import build_detector
from detect.backends.scripted import ScriptedDetector
from ingest.psrtp import PortRange, PsRtpSource
from models.clock import Clock, SystemClock
from models.link import AnalysisMessage
from models.records import Camera, EventKind, Mount
from models.store import Store
from tests.ingest.psrtp.channel import ChannelInviter, make_ps
from tests.ingest.test_live_passthrough import NullSink, decoded_frames, viewer
from tests.rig import build_rig

pytestmark = pytest.mark.slow

CHANNEL = "34020000001320000001"


async def test_a_gb_channel_opens_a_crowd_incident_for_its_grid(
    store: Store, vtest: Path, tmp_path: Path
) -> None:
    # The stretch of vtest.avi where the end-to-end test sees a crowd on the demo camera.
    ps = make_ps(vtest, tmp_path / "channel.ps", start_s=25, seconds=20)
    inviter = ChannelInviter(ps)
    ports = PortRange(31100, 31119, host="127.0.0.1")
    site = demo_site()
    [camera] = [replace(c, source=f"gb28181://{CHANNEL}") for c in site.cameras]
    await load_site(store, replace(site, cameras=[camera]))
    rig = await build_rig(store, SystemClock(), build_detector(), timezone=site.timezone)

    def open_channel(cam: Camera, clock: Clock) -> PsRtpSource:
        return PsRtpSource(cam.id, cam.source.removeprefix("gb28181://"), clock, inviter, ports)

    rig.analysis.source_openers["gb28181"] = open_channel
    opened = asyncio.Event()
    publish = rig.link.publish

    async def publish_and_tell(message: AnalysisMessage) -> None:
        await publish(message)
        if rig.link.opened:
            opened.set()

    rig.link.publish = publish_and_tell  # type: ignore[method-assign]
    try:
        await rig.analysis.start([camera])
        await asyncio.wait_for(opened.wait(), 90)
    finally:
        await rig.stop()
    [incident_id] = rig.link.opened[:1]
    incident = await store.incidents.get(incident_id)
    assert incident.kind is EventKind.CROWD
    # The two grids the demo camera looks over (its calibration maps the road onto both).
    assert incident.grid_code in {"379901001001001", "379901001001002"}
    assert incident.assignee_id is not None
    assert [o.channel_id for o in inviter.offers] == [CHANNEL]
    assert inviter.byes == ["call-1"]


async def test_the_wall_plays_a_gb_channel_from_its_one_stream(vtest: Path, tmp_path: Path) -> None:
    """The wall's WebRTC viewer gets the channel's own H.264 (passthrough) from the analysis's stream:
    one INVITE serves analysis and viewer alike."""
    ps = make_ps(vtest, tmp_path / "channel.ps", seconds=8)
    inviter = ChannelInviter(ps)
    ports = PortRange(31120, 31139, host="127.0.0.1")
    camera = Camera(
        id="cam-gb",
        name="GB channel",
        source=f"gb28181://{CHANNEL}",
        frame_size=(768, 576),
        mount=Mount((118.6, 35.8)),
    )
    analysis = build_analysis(NullSink(), ScriptedDetector([]), SystemClock(), clip_seconds=None)
    analysis.source_openers["gb28181"] = lambda cam, clock: PsRtpSource(
        cam.id, cam.source.removeprefix("gb28181://"), clock, inviter, ports
    )
    hub = WebRTCHub(analysis)
    await analysis.start([camera])
    try:
        async with asyncio.timeout(30):
            while (view := analysis.live.get(camera.id)) is None or view.analysed_frames < 1:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        async with viewer(hub, camera) as track:
            frames = await asyncio.wait_for(decoded_frames(track, 10), 30)
            source = analysis.live[camera.id].source
            assert isinstance(source, PsRtpSource) and source.packets.subscribers == 1
    finally:
        await hub.aclose()
        await analysis.stop()
    assert {(f.width, f.height) for f in frames} == {(768, 576)}
    assert len(inviter.offers) == 1 and inviter.byes == ["call-1"]
