"""Acceptance 2 of issue 16 with a real SIPp camera: the platform INVITEs the channel for real-time play
with the standard's SDP (s=Play, PS on 96, y= SSRC), the camera answers and starts sending PS over RTP
(made by ffmpeg from the demo video) to the offered port, frames reach the frame source, and stopping
the source ends the call with a BYE the camera answers."""

from __future__ import annotations

import asyncio
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from api.site import demo_site
from api.wiring import build_gb28181
from ingest.gb28181.invite import ChannelInviter
from ingest.gb28181.platform import GbPlatform, PlatformSettings
from ingest.gb28181.transport import Peer
from ingest.psrtp import PortRange, PsRtpSource
from models.clock import SystemClock
from models.config.gb28181 import Gb28181Section
from models.store import Store
from tests.ingest.gb28181.test_sipp import free_udp_port
from tests.ingest.psrtp.channel import make_ps
from tests.rig import demo_rig

pytestmark = pytest.mark.skipif(
    shutil.which("sipp") is None, reason="SIPp (Debian's sip-tester) is not installed"
)

SCENARIOS = Path(__file__).parent / "scenarios"
SENDER = Path(__file__).parents[1] / "psrtp" / "send.py"
PLATFORM, DOMAIN = "34020000002000000001", "3402000000"
DEVICE, CHANNEL = "34020000001180000001", "34020000001310000001"


async def test_a_sipp_camera_plays_its_channel_on_invite_and_hangs_up_on_bye(
    vtest: Path, tmp_path: Path
) -> None:
    ps = make_ps(vtest, tmp_path / "channel.ps", seconds=6)
    settings = PlatformSettings(platform_id=PLATFORM, domain=DOMAIN, realm=DOMAIN)
    platform = GbPlatform(settings, lambda _: "dev-Secret-9c", host="127.0.0.1", port=0, tcp=False)
    await platform.start()
    keys = {"platform": PLATFORM, "domain": DOMAIN, "device": DEVICE, "channel": CHANNEL,
            "sender": f"{sys.executable} {SENDER} {ps}"}  # fmt: skip
    args = [f"127.0.0.1:{platform.endpoint.port}", "-sf", str(SCENARIOS / "device_play.xml"),
            "-oocsf", str(SCENARIOS / "device_play_answers.xml"), "-m", "1", "-t", "u1", "-i", "127.0.0.1",
            "-p", str(free_udp_port()), "-nostdin", "-trace_msg", "-trace_err", "-d", "25000"]  # fmt: skip
    for key, value in keys.items():
        args += ["-key", key, value]
    sipp = await asyncio.create_subprocess_exec(
        "sipp", *args, cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )

    def peer_of(channel: str) -> tuple[str, Peer] | None:
        return next(((d.id, d.peer) for d in platform.devices.values() if channel in d.channels), None)

    inviter = ChannelInviter(platform.endpoint, PLATFORM, DOMAIN, peer_of)
    source = PsRtpSource("cam-gb", CHANNEL, SystemClock(), inviter, PortRange(31200, 31219, host="127.0.0.1"))
    frames = 0
    try:
        async with asyncio.timeout(30):
            while peer_of(CHANNEL) is None:  # noqa: ASYNC110 - the catalog answer is the device's own MESSAGE
                await asyncio.sleep(0.1)
            async for frame in source.frames():
                assert frame.image.shape == (576, 768, 3)
                frames += 1
                if frames == 10:
                    break
    finally:
        await source.aclose()
        await platform.stop()
        if sipp.returncode is None:
            sipp.terminate()
        await sipp.wait()
    trace = "".join(p.read_text(errors="replace") for p in sorted(tmp_path.glob("*_messages.log")))  # noqa: ASYNC240
    assert frames == 10 and source.sessions == 1
    assert "INVITE sip:" + CHANNEL in trace and "s=Play" in trace and "a=rtpmap:96 PS/90000" in trace
    assert "BYE sip:" + CHANNEL in trace
    assert inviter.playing == 0


async def test_serve_plays_the_catalogs_channels_through_the_site_media_settings(store: Store) -> None:
    """What serve wires: with a gb28181: section, gb28181:// cameras open as PS-over-RTP sources on the
    site's port range and transport, INVITEd through the platform, and catalog channels are analysed."""
    rig = await demo_rig(store)
    try:
        config = Gb28181Section.model_validate(
            {
                "platform_id": PLATFORM,
                "domain": DOMAIN,
                "host": "127.0.0.1",
                "port": 0,
                "password": "${GB_DEVICE_PASSWORD}",
                "media": {"ports": [31300, 31309], "transport": "tcp-passive", "ip": "10.1.2.3"},
            }
        )
        build_gb28181(config, rig.centre, rig.link, {"GB_DEVICE_PASSWORD": "x"}, timezone="Asia/Shanghai",
                      analysis=rig.analysis)  # fmt: skip
        camera = replace(demo_site().cameras[0], source=f"gb28181://{DEVICE}/{CHANNEL}")
        source = rig.analysis.source_openers["gb28181"](camera, rig.clock)
        assert isinstance(source, PsRtpSource)
        assert (source.channel_id, source.transport, source.media_ip) == (CHANNEL, "tcp-passive", "10.1.2.3")
        listed = Gb28181Section.model_validate({**config.model_dump(), "media": {"play": False}})
        assert config.media.play and not listed.media.play
    finally:
        await rig.stop()
