"""Acceptance 2 of issue 16 end to end: a SIPp camera registers with gridwatch's GB/T 28181 platform and
answers its catalog; the channel, already calibrated with the demo camera's zones, keeps them; the
analysis INVITEs it and the camera streams ffmpeg-made PS of the demo video over RTP; frames reach the
detector and the crowd rule opens an incident for the right grid and the worker on duty; stopping the
camera sends the BYE the camera answers."""

from __future__ import annotations

import asyncio
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from api.site import demo_site, load_site
from api.wiring import build_gb28181
from detect.backends.factory import build_detector
from models.clock import SystemClock
from models.config.gb28181 import Gb28181Section
from models.link import AnalysisMessage
from models.records import EventKind
from models.store import Store
from tests.ingest.gb28181.test_sipp import free_udp_port
from tests.ingest.psrtp.channel import make_ps
from tests.rig import build_rig

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("sipp") is None, reason="SIPp (Debian's sip-tester) is not installed"),
]

SCENARIOS = Path(__file__).parents[1] / "ingest" / "gb28181" / "scenarios"
SENDER = Path(__file__).parents[1] / "ingest" / "psrtp" / "send.py"
PLATFORM, DOMAIN = "34020000002000000001", "3402000000"
DEVICE, CHANNEL = "34020000001180000001", "34020000001310000001"


async def test_a_sipp_camera_streams_and_its_crowd_becomes_an_incident(
    store: Store, vtest: Path, tmp_path: Path
) -> None:
    ps = make_ps(vtest, tmp_path / "channel.ps", start_s=25, seconds=20)
    site = demo_site()
    # The channel as an operator set it up before: the demo camera's calibration and zones, under its id.
    camera = replace(site.cameras[0], id=CHANNEL, source=f"gb28181://{DEVICE}/{CHANNEL}")
    await load_site(store, replace(site, cameras=[camera]))
    rig = await build_rig(store, SystemClock(), build_detector(), timezone=site.timezone)
    config = Gb28181Section.model_validate(
        {
            "platform_id": PLATFORM,
            "domain": DOMAIN,
            "host": "127.0.0.1",
            "port": 0,
            "transports": ["udp"],
            "password": "${GB_DEVICE_PASSWORD}",
            "media": {"ports": [31400, 31419]},
        }
    )
    env = {"GB_DEVICE_PASSWORD": "dev-Secret-9c"}
    service = build_gb28181(config, rig.centre, rig.link, env, timezone=site.timezone, analysis=rig.analysis)
    opened = asyncio.Event()
    publish = rig.link.publish

    async def publish_and_tell(message: AnalysisMessage) -> None:
        await publish(message)
        if rig.link.opened:
            opened.set()

    rig.link.publish = publish_and_tell  # type: ignore[method-assign]
    await service.start()
    port = service.platform.endpoint.port  # type: ignore[attr-defined]
    keys = {"platform": PLATFORM, "domain": DOMAIN, "device": DEVICE, "channel": CHANNEL,
            "sender": f"{sys.executable} {SENDER} {ps}"}  # fmt: skip
    args = [f"127.0.0.1:{port}", "-sf", str(SCENARIOS / "device_play.xml"),
            "-oocsf", str(SCENARIOS / "device_play_answers.xml"), "-m", "1", "-t", "u1", "-i", "127.0.0.1",
            "-p", str(free_udp_port()), "-nostdin", "-trace_msg", "-trace_err", "-d", "90000"]  # fmt: skip
    for key, value in keys.items():
        args += ["-key", key, value]
    sipp = await asyncio.create_subprocess_exec(
        "sipp", *args, cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        await asyncio.wait_for(opened.wait(), 80)
    finally:
        await rig.stop()  # the camera stops first: its BYE still has the SIP service
        await service.stop()
        if sipp.returncode is None:
            sipp.terminate()
        await sipp.wait()
    incident = await store.incidents.get(rig.link.opened[0])
    assert incident.kind is EventKind.CROWD and incident.camera_id == CHANNEL
    assert incident.grid_code in {"379901001001001", "379901001001002"}
    assert incident.assignee_id is not None
    kept = await store.cameras.get(CHANNEL)
    assert kept is not None and kept.zones == camera.zones and kept.calibration == camera.calibration
    trace = "".join(p.read_text(errors="replace") for p in sorted(tmp_path.glob("*_messages.log")))  # noqa: ASYNC240
    assert "INVITE sip:" + CHANNEL in trace and "BYE sip:" + CHANNEL in trace
