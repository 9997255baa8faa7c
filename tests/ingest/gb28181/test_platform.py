"""The platform's rules, one request at a time over UDP: the id prefix, registration before messages,
unknown CmdTypes (501, logged once), unregistering; and the site section's own checks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from pydantic import ValidationError

from ingest.gb28181 import digest, sip
from ingest.gb28181.platform import GbPlatform, PlatformSettings
from models.config.gb28181 import Gb28181Section
from models.gb28181 import Alarm, CatalogItem, GbDevice
from models.records import EventKind

PLATFORM, DOMAIN, PASSWORD = "34020000002000000001", "3402000000", "unit-Secret-2"


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    async def registered(self, device: GbDevice) -> None:
        self.seen.append(("registered", device.id))

    async def refused(self, device_id: str, address: str, reason: str) -> None:
        self.seen.append(("refused", reason))

    async def keepalive(self, device_id: str, at: object) -> None:
        self.seen.append(("keepalive", device_id))

    async def offline(self, device_id: str, reason: str) -> None:
        self.seen.append(("offline", reason))

    async def catalog(self, device_id: str, items: list[CatalogItem]) -> None:
        self.seen.append(("catalog", device_id))

    async def alarm(self, device_id: str, alarm: Alarm) -> None:
        self.seen.append(("alarm", device_id))


class Device(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answers: asyncio.Queue[sip.SipMessage] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: object) -> None:
        message = sip.parse(data)
        if not message.is_request:
            self.answers.put_nowait(message)


@pytest.fixture
async def platform() -> AsyncIterator[tuple[GbPlatform, Recorder]]:
    recorder = Recorder()
    settings = PlatformSettings(PLATFORM, DOMAIN, DOMAIN, prefixes=("3402",), keepalive_s=3600)
    served = GbPlatform(settings, lambda _: PASSWORD, recorder, host="127.0.0.1", port=0)
    await served.start()
    yield served, recorder
    await served.stop()


def request(method: str, device: str, n: int, *, body: bytes = b"", extra: str = "") -> bytes:
    message = sip.SipMessage(method=method, uri=f"sip:{PLATFORM}@{DOMAIN}")
    message.add("via", f"SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bKu{n}")
    message.add("from", f"<sip:{device}@{DOMAIN}>;tag=t{n}")
    message.add("to", f"<sip:{PLATFORM if method != 'REGISTER' else device}@{DOMAIN}>")
    message.add("call-id", f"unit-{n}")
    message.add("cseq", f"{n} {method}")
    for line in filter(None, extra.split("\n")):
        name, _, value = line.partition(": ")
        message.add(name, value)
    if body:
        message.add("content-type", "Application/MANSCDP+xml")
        message.body = body
    return message.serialise()


async def ask(device: Device, send: object, data: bytes) -> sip.SipMessage:
    send(data)  # type: ignore[operator]
    return await asyncio.wait_for(device.answers.get(), 5)


async def test_prefix_registration_unknown_cmd_types_and_unregistering(
    platform: tuple[GbPlatform, Recorder], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    served, recorder = platform
    transport, device = await asyncio.get_running_loop().create_datagram_endpoint(
        Device, remote_addr=("127.0.0.1", served.endpoint.port)
    )
    send = transport.sendto
    try:
        # Another centre's device, and a malformed id: refused before any challenge.
        assert (await ask(device, send, request("REGISTER", "35010000001320000001", 1))).status == 403
        assert (await ask(device, send, request("REGISTER", "3402", 2))).status == 400
        ours = "34020000001320000001"
        keepalive = (
            b"<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>"
            + ours.encode()
            + b"</DeviceID></Notify>"
        )
        assert (await ask(device, send, request("MESSAGE", ours, 3, body=keepalive))).status == 403

        challenge = await ask(device, send, request("REGISTER", ours, 4))
        assert challenge.status == 401
        params = digest.parse_params(challenge.header("www-authenticate") or "")
        authorization = digest.authorization(params, ours, PASSWORD, "REGISTER", f"sip:{PLATFORM}@{DOMAIN}")
        ok = await ask(
            device, send, request("REGISTER", ours, 5, extra=f"Authorization: {authorization}\nExpires: 5")
        )
        assert ok.status == 200 and ok.header("expires") == "60"  # raised to the platform's least
        assert (await ask(device, send, request("MESSAGE", ours, 6, body=keepalive))).status == 200
        # A refresh before expiry keeps the device as it is (its catalog is not asked for again).
        first = served.devices[ours]
        refresh = request("REGISTER", ours, 51, extra=f"Authorization: {authorization}\nExpires: 3600")
        assert (await ask(device, send, refresh)).status == 200 and served.devices[ours] is first

        # An unknown CmdType: 501 each time, the CmdType logged once; DeviceStatus is known and quiet.
        reboot = keepalive.replace(b"Keepalive", b"Reboot")
        assert (await ask(device, send, request("MESSAGE", ours, 7, body=reboot))).status == 501
        assert (await ask(device, send, request("MESSAGE", ours, 8, body=reboot))).status == 501
        status = keepalive.replace(b"Notify", b"Response").replace(b"Keepalive", b"DeviceStatus")
        assert (await ask(device, send, request("MESSAGE", ours, 9, body=status))).status == 200
        assert served.unknown_cmd_types == {"Reboot"}

        # Expires 0 unregisters: the device is offline at once.
        bye = request("REGISTER", ours, 10, extra=f"Authorization: {authorization}\nExpires: 0")
        assert (await ask(device, send, bye)).status == 200
        await asyncio.sleep(0.05)
        assert ("offline", "unregistered") in recorder.seen and ("registered", ours) in recorder.seen
        assert not served.devices[ours].online
    finally:
        transport.close()


def test_the_site_section_refuses_inline_passwords_and_bad_ids() -> None:
    good = {"platform_id": PLATFORM, "domain": DOMAIN, "password": "${GB_PASSWORD}"}
    section = Gb28181Section.model_validate(good)
    assert (
        section.device_prefixes == ["34020000"]
        and section.keepalive_s == 60
        and section.offline_after_missed == 3
    )
    assert section.alarm_codes() == {EventKind.CROWD: (5, 10)}
    assert [r.topic for r in section.camera_event_rules()] == ["gb28181:Alarm/5/10"]
    wrong: list[dict[str, object]] = [
        {"password": "hunter2"},
        {"platform_id": "3402"},
        {"domain": "34020"},
        {"alarms": [{"method": 5, "kind": "parade"}]},
    ]
    for bad in wrong:
        with pytest.raises(ValidationError):
            Gb28181Section.model_validate({**good, **bad})
