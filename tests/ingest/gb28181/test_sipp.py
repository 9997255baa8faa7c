"""GB/T 28181 against real peers: SIPp scenarios (scenarios/) as a device and as the county's platform,
gridwatch's side built by api.wiring.build_gb28181 over the demo county and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api.wiring import build_gb28181
from models.camera_events import CameraEventTable
from models.config.gb28181 import Gb28181Section
from models.gb28181 import Alarm, CatalogItem, GbDevice
from models.records import EventKind
from models.store import Store
from router.centre.gb28181 import GbService
from tests.rig import Rig, demo_rig

pytestmark = pytest.mark.skipif(
    shutil.which("sipp") is None, reason="SIPp (Debian's sip-tester) is not installed"
)

SCENARIOS = Path(__file__).parent / "scenarios"
PLATFORM, DOMAIN = "34020000002000000001", "3402000000"
DEVICE = "34020000001180000001"
CHANNELS = [f"340200000013100000{n:02d}" for n in range(1, 5)]
UPPER, UPPER_DOMAIN = "34010000002000000001", "3401000000"
ENV = {"GB_DEVICE_PASSWORD": "dev-Secret-9c", "GB_UPPER_PASSWORD": "up-Secret-3f"}


def section(**extra: Any) -> Gb28181Section:
    return Gb28181Section.model_validate(
        {
            "platform_id": PLATFORM,
            "domain": DOMAIN,
            "host": "127.0.0.1",
            "port": 0,
            "password": "${GB_DEVICE_PASSWORD}",
            "keepalive_s": 0.5,
            "offline_after_missed": 2,
            "default_lonlat": [118.6301, 35.7906],
            **extra,
        }
    )


async def sipp(cwd: Path, *args: str, timeout_s: float = 40.0) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "sipp", *args, "-nostdin", "-timeout", "30s", "-timeout_error", "-trace_err",
        cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), timeout_s)
    return process.returncode or 0, out.decode(errors="replace")[-2000:] + logs(cwd, "*_errors.log")[-2000:]


def trace_bytes(cwd: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(cwd.glob("*_messages.log")))


def logs(cwd: Path, pattern: str) -> str:
    """What SIPp wrote to its log files (its errors, or with -trace_msg every message)."""
    return "".join(p.read_text(errors="replace") for p in sorted(cwd.glob(pattern)))


def device_args(port: int, scenario: str, transport: str = "u1") -> list[str]:
    keys = {"platform": PLATFORM, "domain": DOMAIN, "device": DEVICE, "channel": CHANNELS[0]}
    args = [
        f"127.0.0.1:{port}",
        "-sf",
        str(SCENARIOS / scenario),
        "-m",
        "1",
        "-t",
        transport,
        "-i",
        "127.0.0.1",
        # A port of its own: SIPp's default, 5060, may be another test's at the same time.
        "-p",
        str(free_udp_port()),
    ]
    for key, value in keys.items():
        args += ["-key", key, value]
    return args


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@pytest.fixture
async def county(store: Store) -> AsyncIterator[Rig]:
    rig = await demo_rig(store, workers=True)
    yield rig
    await rig.stop()


async def started(rig: Rig, config: Gb28181Section) -> GbService:
    # The intake looks alarms up in the site's camera-event table, of which gb28181.alarms is part.
    assert rig.centre.intake.camera_events is not None
    rig.centre.intake.camera_events.table = CameraEventTable(config.camera_event_rules())
    service = build_gb28181(config, rig.centre, rig.link, ENV, timezone="Asia/Shanghai")
    await service.start()
    return service


@pytest.mark.parametrize("transport", ["u1", "t1"])
async def test_a_device_registers_lists_four_channels_alarms_and_goes_offline(
    county: Rig, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture, transport: str
) -> None:
    caplog.set_level(logging.INFO)
    config = section(
        alarms=[{"method": 5, "type": 10, "kind": "crowd"}, {"method": 5, "type": 2, "kind": "attach"}]
    )
    service = await started(county, config)
    port = service.platform.endpoint.port  # type: ignore[attr-defined]
    try:
        rc, out = await sipp(tmp_path, *device_args(port, "device.xml", transport), "-oocsf",
                             str(SCENARIOS / "device_catalog.xml"))  # fmt: skip
        assert rc == 0, out

        # The four channels are cameras in the registry, with names, positions and their parent.
        async def four() -> bool:
            return {c.id for c in await store.cameras.load()} >= set(CHANNELS)

        await until(four, "the catalog's cameras")
        cameras = {c.id: c for c in await store.cameras.load()}
        assert cameras[CHANNELS[0]].name == "东关路口一" and cameras[CHANNELS[0]].mount.lonlat == (
            118.63,
            35.790769,
        )
        assert cameras[CHANNELS[3]].mount.lonlat == (
            118.6301,
            35.7906,
        )  # no position given: the site's default
        assert cameras[CHANNELS[1]].source == f"gb28181://{DEVICE}/{CHANNELS[1]}"
        channels = {c.id: c for c in await store.gb28181.channels()}
        assert set(channels) == set(CHANNELS) and {c.parent_id for c in channels.values()} == {DEVICE}
        assert channels[CHANNELS[3]].status == "OFF"

        # The crowd-density alarm (5/10) opened a crowd incident on channel 1's camera, in its grid.
        async def incident() -> bool:
            return (await store.incidents.page())[1] == 1

        await until(incident, "the alarm's incident")
        [opened] = (await store.incidents.page())[0]
        assert opened.kind is EventKind.CROWD and opened.camera_id == CHANNELS[0]
        # The channel stands where the demo camera does, in the demo county's grid …001.
        assert opened.grid_code == "379901001001001", opened.grid_code

        # The motion alarm (5/2, mapped to attach) is context on that open incident.
        async def attached() -> bool:
            return any(e.action == "camera_event" for e in await store.incidents.log(opened.id))

        await until(attached, "the motion alarm on the incident")
        notes = [e.note for e in await store.incidents.log(opened.id) if e.action == "camera_event"]
        assert (
            len(notes) == 1 and notes[0].startswith("gb28181:Alarm/5/2 ") and "description=motion" in notes[0]
        )
        # The 5/99 alarm maps to nothing: logged once for its two reports, answered 200 both times. Each
        # alarm is handled after the 200 that answered it, in the order they came, each holding the
        # device's alarm lock: once the lock is ours, every alarm the device sent has been handled.
        async with service.platform.devices[DEVICE].alarms:  # type: ignore[attr-defined]
            pass
        unmapped = [r for r in caplog.records if "gb28181:Alarm/5/99 maps to nothing" in r.getMessage()]
        assert len(unmapped) == 1

        # Keepalives were heard; once they stop, two intervals later the device is offline.
        [device] = await store.gb28181.devices()
        assert device.id == DEVICE and device.transport == ("UDP" if transport == "u1" else "TCP")
        assert device.last_keepalive_at is not None

        async def offline() -> bool:
            return not (await store.gb28181.devices())[0].online

        await until(offline, "the device offline")
        assert (await store.gb28181.devices())[0].offline_reason == "2 keepalives missed"
    finally:
        await service.stop()


async def test_a_wrong_password_is_refused_and_reported(county: Rig, store: Store, tmp_path: Path) -> None:
    service = await started(county, section())
    try:
        port = service.platform.endpoint.port  # type: ignore[attr-defined]
        rc, out = await sipp(tmp_path, *device_args(port, "device_wrong_password.xml"))
        assert rc == 0, out  # the scenario expects the 403

        async def reported() -> bool:
            return bool(await store.gb28181.refusals())

        await until(reported, "the refusal")
        [refusal] = await store.gb28181.refusals()
        assert (refusal.device_id, refusal.reason) == (DEVICE, "wrong password")
        assert await store.gb28181.devices() == []
    finally:
        await service.stop()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_gridwatch_registers_upward_and_reports_its_crowd_incident(
    county: Rig, store: Store, tmp_path: Path
) -> None:
    upper_port = free_udp_port()
    upper = {"id": UPPER, "domain": UPPER_DOMAIN, "host": "127.0.0.1", "port": upper_port,
             "password": "${GB_UPPER_PASSWORD}", "keepalive_s": 60}  # fmt: skip
    # The upper platform: registration, one keepalive, one alarm, one catalog page, each a call of its own.
    keys = ["-key", "upper", UPPER, "-key", "domain", UPPER_DOMAIN]
    peer = asyncio.create_task(
        sipp(
            tmp_path,
            "-sf",
            str(SCENARIOS / "upper.xml"),
            "-m",
            "4",
            "-p",
            str(upper_port),
            "-i",
            "127.0.0.1",
            "-trace_msg",
            *keys,
        )
    )
    await asyncio.sleep(0.5)  # SIPp binds its port
    service = await started(county, section(upper=upper))
    try:
        assert service.upper is not None
        await asyncio.wait_for(service.upper.registered.wait(), 20)  # type: ignore[attr-defined]
        # A crowd incident on a GB channel's camera: the one the device scenario's catalog would add.
        now = datetime.now(UTC)
        await service.desk.registered(
            GbDevice(DEVICE, "UDP", "127.0.0.1:5060", now, now + timedelta(hours=1))
        )
        await service.desk.catalog(
            DEVICE, [CatalogItem(CHANNELS[0], "东关路口一", DEVICE, 118.63, 35.790769)]
        )
        await service.desk.alarm(DEVICE, Alarm(CHANNELS[0], 1, 2, 5, 10, None))
        [opened] = (await store.incidents.page())[0]
        assert opened.kind is EventKind.CROWD

        rc, out = await asyncio.wait_for(peer, 40)
        assert rc == 0, out
        text = logs(tmp_path, "*_messages.log")
        assert f"<AlarmID>{opened.id}</AlarmID>" in text and "<CmdType>Keepalive</CmdType>" in text
        assert "<SumNum>2</SumNum>" in text  # the catalog page: the channel's camera and the demo camera
        assert "东关路口全景".encode("gb2312") in trace_bytes(tmp_path)  # its name, in the body's GB2312
        assert service.reporter is not None and service.reporter.reported == [str(opened.id)]
    finally:
        peer.cancel()
        await service.stop()
