"""The link up to the county's platform against a scripted upper platform on a UDP socket: a qop=auth
challenge answered right, and a platform that refuses retried with nothing sent up meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from ingest.gb28181 import digest, sip
from ingest.gb28181.cascade import UpperLink, UpperSettings
from models.gb28181 import UpAlarm

UPPER, UPPER_DOMAIN, LOWER, DOMAIN = (
    "34010000002000000001",
    "3401000000",
    "34020000002000000001",
    "3402000000",
)


class Upper(asyncio.DatagramProtocol):
    """Challenges each REGISTER with qop=auth, then accepts it when the digest is ``password``'s (or
    refuses every REGISTER with ``refuse``); answers every MESSAGE 200."""

    def __init__(self, password: str, refuse: bool = False) -> None:
        self.password, self.refuse = password, refuse
        self.transport: asyncio.DatagramTransport | None = None
        self.requests: list[sip.SipMessage] = []
        self.nonces = digest.Nonces()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        request = sip.parse(data)
        self.requests.append(request)
        if request.method == "REGISTER" and self.refuse:
            answer = sip.response(request, 403)
        elif request.method == "REGISTER" and request.header("authorization") is None:
            answer = sip.response(request, 401)
            answer.add(
                "www-authenticate",
                f'Digest realm="{UPPER_DOMAIN}", nonce="{self.nonces.issue()}", qop="auth"',
            )
        elif request.method == "REGISTER":
            params = digest.parse_params(request.header("authorization") or "")
            ok = digest.verify(params, self.password, "REGISTER") and params.get("qop") == "auth"
            answer = sip.response(request, 200 if ok else 403)
        else:
            answer = sip.response(request, 200)
        assert self.transport is not None
        self.transport.sendto(answer.serialise(), addr)


async def until(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def _link(
    upper: Upper, alarm_request: str = "MESSAGE", **options: float
) -> tuple[UpperLink, asyncio.DatagramTransport]:
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: upper, local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    settings = UpperSettings(
        UPPER, UPPER_DOMAIN, "127.0.0.1", port, "UDP", LOWER, DOMAIN, "up-pass", retry_s=0.1,
        alarm_request=alarm_request, **options,  # type: ignore[arg-type]
    )  # fmt: skip
    link = UpperLink(settings, None, host="127.0.0.1", port=0, udp=True, tcp=False)
    await link.start()
    return link, transport


ALARM = UpAlarm(LOWER, 2, 5, 10, datetime(2026, 12, 5, 12, tzinfo=UTC), "crowd", 118.63, 35.79, "i-1")


@pytest.mark.parametrize("alarm_request", ["MESSAGE", "NOTIFY"])
async def test_a_qop_auth_challenge_is_answered_and_alarms_go_up(alarm_request: str) -> None:
    upper = Upper("up-pass")
    link, transport = await _link(upper, alarm_request)
    try:
        await asyncio.wait_for(link.registered.wait(), 10)
        methods = [r.method for r in upper.requests]
        assert methods[:3] == ["REGISTER", "REGISTER", "MESSAGE"]  # challenged, answered, first keepalive
        assert await link.report(ALARM)
        alarm = upper.requests[-1]
        assert alarm.method == alarm_request and b"<AlarmID>i-1</AlarmID>" in alarm.body
    finally:
        await link.stop()
        transport.close()


async def test_a_refusing_upper_platform_is_retried_and_nothing_goes_up_meanwhile() -> None:
    upper = Upper("up-pass", refuse=True)
    link, transport = await _link(upper)
    try:
        await until(lambda: sum(r.method == "REGISTER" for r in upper.requests) >= 3)
        assert not link.registered.is_set() and link.last_error is not None and "403" in link.last_error
        assert not await link.report(ALARM)
        assert all(r.method == "REGISTER" for r in upper.requests)
    finally:
        await link.stop()
        transport.close()


async def test_the_registration_is_refreshed_before_it_runs_out_and_keepalives_flow() -> None:
    upper = Upper("up-pass")
    link, transport = await _link(upper, expires_s=1, keepalive_s=0.2)
    try:
        # Each registration is a challenge and an answer; the second comes at 80 % of the first's second.
        await until(lambda: sum(r.method == "REGISTER" for r in upper.requests) >= 4)
        keepalives = [r for r in upper.requests if r.method == "MESSAGE" and b"Keepalive" in r.body]
        assert len(keepalives) >= 2 and link.registered.is_set()
        registers = [r for r in upper.requests if r.method == "REGISTER"]
        assert {r.header("expires") for r in registers} == {"1"}
        assert len({r.header("call-id") for r in registers}) == 1  # one registration, refreshed
    finally:
        await link.stop()
        transport.close()
