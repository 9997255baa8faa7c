"""10,000 malformed SIP messages over UDP and 300 over TCP at a running platform: none ends it, and every one
is answered (a SIP error, or a plain answer when a mutation happened to leave it valid) or dropped with a
log line; the platform still serves a device afterwards."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

import pytest

from ingest.gb28181 import digest, sip
from ingest.gb28181.platform import GbPlatform, PlatformSettings

PLATFORM, DOMAIN, DEVICE = "34020000002000000001", "3402000000", "34020000001320000001"
PASSWORD = "fuzz-Secret-1"
UDP_MESSAGES, TCP_MESSAGES = 10_000, 300
#: Messages in flight at once: a burst of 20 KiB datagrams overflows a loopback socket buffer, and a lost
#: datagram could not be told from one the platform ignored.
BATCH = 20


def _message(kind: str, n: int) -> bytes:
    head = (
        f"{kind} sip:{PLATFORM}@{DOMAIN} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bK{n}\r\n"
        f"From: <sip:{DEVICE}@{DOMAIN}>;tag=f{n}\r\nTo: <sip:{PLATFORM}@{DOMAIN}>\r\nCall-ID: fuzz-{n}\r\n"
        f"CSeq: {n % 1000 + 1} {kind}\r\nMax-Forwards: 70\r\n"
    )
    if kind != "MESSAGE":
        return (head + "Expires: 3600\r\nContent-Length: 0\r\n\r\n").encode()
    body = (
        '<?xml version="1.0" encoding="GB2312"?><Notify><CmdType>Keepalive</CmdType>'
        f"<SN>{n}</SN><DeviceID>{DEVICE}</DeviceID><Status>OK</Status></Notify>"
    ).encode()
    return (
        head + f"Content-Type: Application/MANSCDP+xml\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _with_body(message: bytes, body: bytes, length: str | None = None) -> bytes:
    head = message.split(b"\r\n\r\n", 1)[0].split(b"\r\nContent-Length")[0]
    return head + f"\r\nContent-Length: {length or len(body)}\r\n\r\n".encode() + body


BODIES: list[bytes] = [
    b'<?xml version="1.0" encoding="UTF-16"?><Notify/>',
    b"<Notify><CmdType>Keepalive</CmdType>",
    b'<?xml version="1.0"?><Notify><CmdType>Reboot</CmdType><SN>1</SN><DeviceID>x</DeviceID></Notify>',
    b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><Notify>&a;&a;</Notify>',
    b"\x81\xff\xfe\x80<Notify/>",
    "<Notify><CmdType>Alarm</CmdType><SN>1</SN><DeviceID>1</DeviceID></Notify>".encode("utf-16"),
    b"<Notify><CmdType>Alarm</CmdType><SN>1</SN><DeviceID>34020000001320000001</DeviceID></Notify>",
]


def _mutate(rng: random.Random, n: int) -> bytes:
    message = _message(rng.choice(["MESSAGE", "MESSAGE", "REGISTER", "OPTIONS", "INVITE"]), n)
    how = rng.randrange(12)
    if how == 0:
        return message[: rng.randrange(len(message))]
    if how == 1:
        data = bytearray(message)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if how == 2:
        lines = message.split(b"\r\n")
        del lines[rng.randrange(1, 7)]
        return b"\r\n".join(lines)
    if how == 3:
        return message.replace(
            b"\r\nMax-Forwards", b"\r\n" + rng.randbytes(rng.randint(1, 40)) + b"\r\nMax-Forwards"
        )
    if how == 4:
        body = message.split(b"\r\n\r\n", 1)[1]
        return _with_body(message, body, rng.choice(["-1", "ten", "99999999", str(len(body) + 7), "70000"]))
    if how == 5:
        return _with_body(message, rng.choice(BODIES))
    if how == 6:
        return rng.randbytes(rng.randint(0, 1400))
    if how == 7:
        return message.replace(b"SIP/2.0\r\n", rng.choice([b"SIP/3.0\r\n", b"SIP/2.0 \r\n", b"\r\n"]), 1)
    if how == 8:
        return message.replace(
            message.split(b" ", 1)[0], rng.choice([b"REG ISTER", b"M@SSAGE", b"", b"\xff"]), 1
        )
    if how == 9:
        return message.replace(b"Content-Type: Application/MANSCDP+xml", b"Content-Type: text/plain")
    if how == 10:
        return message.replace(b"\r\n\r\n", b"\r\n" + b"X-Pad: " + b"a" * 20000 + b"\r\n\r\n", 1)
    return message.replace(DEVICE.encode(), rng.choice([b"1234", b"99990000001320000001", b"\xe4\xb8\xad"]))


class _Client(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: list[bytes] = []

    def datagram_received(self, data: bytes, addr: object) -> None:
        # Responses only: the platform's own Catalog query to the device it registered is not one.
        if data.startswith(b"SIP/2.0 "):
            self.received.append(data)


async def _register(send: Callable[[bytes], None], client: _Client) -> None:
    register = _message("REGISTER", 0)
    send(register)
    await _until(lambda: len(client.received) >= 1)
    challenge = digest.parse_params(sip.parse(client.received[-1]).header("www-authenticate") or "")
    again = register.replace(b"CSeq: 1 REGISTER", b"CSeq: 2 REGISTER").replace(b"z9hG4bK0", b"z9hG4bKr")
    authorization = digest.authorization(challenge, DEVICE, PASSWORD, "REGISTER", f"sip:{PLATFORM}@{DOMAIN}")
    send(again.replace(b"Content-Length", f"Authorization: {authorization}\r\nContent-Length".encode()))
    await _until(lambda: len(client.received) >= 2)
    assert sip.parse(client.received[-1]).status == 200
    client.received.clear()


async def _until(
    check: Callable[[], bool], timeout_s: float = 20.0, what: Callable[[], object] = str
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out: {what()}"
        await asyncio.sleep(0.005)


@pytest.mark.slow
async def test_ten_thousand_malformed_messages(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ingest.gb28181")
    settings = PlatformSettings(PLATFORM, DOMAIN, DOMAIN, prefixes=("3402",), keepalive_s=3600)
    platform = GbPlatform(settings, lambda _: PASSWORD, host="127.0.0.1", port=0)
    await platform.start()
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(
        _Client, remote_addr=("127.0.0.1", platform.endpoint.port)
    )
    try:
        await _register(transport.sendto, client)
        caplog.clear()
        dropped = lambda: sum("dropped a message" in r.getMessage() for r in caplog.records)  # noqa: E731
        rng = random.Random(28181)
        for batch in range(0, UDP_MESSAGES, BATCH):
            for n in range(batch, batch + BATCH):
                transport.sendto(_mutate(rng, n + 1))
            # Every message so far answered or dropped with a log before the next batch: nothing lost to
            # a full socket buffer, so the count below is exact.
            await _until(
                lambda end=batch + BATCH: len(client.received) + dropped() >= end,
                what=lambda: (len(client.received), dropped(), platform.endpoint.refused),
            )
        answers = [sip.parse(data) for data in client.received]
        statuses = {answer.status for answer in answers}
        assert len(answers) + dropped() == UDP_MESSAGES
        assert {400, 403, 413, 415, 501, 505} <= statuses and 200 in statuses
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors == []
        # A 401 is the challenge a mutated REGISTER still earns, not a refusal.
        answered_with_error = sum(answer.status >= 400 and answer.status != 401 for answer in answers)
        assert answered_with_error + dropped() == platform.endpoint.refused

        # Over TCP: one connection each, so a message that breaks the framing breaks only its own. A stream
        # may hold what reads as more than one message, so each connection is checked on its own: answered,
        # or dropped with a log.
        for n in range(TCP_MESSAGES):
            before = dropped()
            reader, writer = await asyncio.open_connection("127.0.0.1", platform.endpoint.port)
            writer.write(_mutate(rng, UDP_MESSAGES + n + 1))
            await writer.drain()
            writer.write_eof()
            data = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            answered = data.startswith(b"SIP/2.0 ")
            await _until(
                lambda done=answered, seen=before: done or dropped() > seen, what=lambda sent=data: sent[:80]
            )

        # Still serving: a keepalive from the registered device is answered 200.
        client.received.clear()
        transport.sendto(_message("MESSAGE", 99_999))
        await _until(lambda: len(client.received) == 1)
        assert sip.parse(client.received[0]).status == 200
    finally:
        transport.close()
        await platform.stop()
