"""A GB/T 28181 channel as a frame source, against simulated channels sending ffmpeg-made PS over RTP:
frames arrive over UDP, TCP passive and TCP active; the INVITE offers a port of the range and a GB SSRC;
a stream that goes silent is ended with BYE and invited again; closing the source sends BYE."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ingest.frames import Frame
from ingest.psrtp import PortRange, PsRtpSource
from models.clock import SystemClock
from tests.ingest.psrtp.channel import ChannelInviter, make_ps

CHANNEL = "34020000001320000001"


@pytest.fixture(scope="module")
def ps(vtest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_ps(vtest, tmp_path_factory.mktemp("ps") / "vtest.ps", seconds=6)


async def _frames(source: PsRtpSource, count: int, timeout_s: float = 30) -> list[Frame]:
    got: list[Frame] = []

    async def take() -> None:
        async for frame in source.frames():
            got.append(frame)
            if len(got) >= count:
                return

    await asyncio.wait_for(take(), timeout_s)
    return got


@pytest.mark.parametrize("transport", ["udp", "tcp-passive", "tcp-active"])
async def test_frames_arrive_and_close_says_bye(ps: Path, transport: str) -> None:
    inviter = ChannelInviter(ps)
    ports = PortRange(31000, 31019, host="127.0.0.1")
    source = PsRtpSource("cam-gb", CHANNEL, SystemClock(), inviter, ports, transport=transport)
    try:
        frames = await _frames(source, 15)
    finally:
        await source.aclose()
    assert [f.image.shape for f in frames[:1]] == [(576, 768, 3)]
    assert [f.index for f in frames] == list(range(15))
    [offer] = inviter.offers
    assert offer.channel_id == CHANNEL and offer.transport == transport
    assert 31000 <= offer.port <= 31019
    assert len(offer.ssrc) == 10 and offer.ssrc.startswith("0" + CHANNEL[3:8])
    assert inviter.byes == ["call-1"]


async def test_a_silent_stream_is_ended_with_bye_and_invited_again(ps: Path) -> None:
    inviter = ChannelInviter(ps, fail_first_after_s=2.0)
    ports = PortRange(31020, 31039, host="127.0.0.1")
    source = PsRtpSource("cam-gb", CHANNEL, SystemClock(), inviter, ports, read_timeout_s=1.0, backoff=(0.2,))
    sessions_seen: list[int] = []

    async def watch() -> None:
        # The first channel stops sending after 2 s: BYE, a fresh INVITE, and frames again.
        async for _ in source.frames():
            sessions_seen.append(source.sessions)
            if sessions_seen.count(2) >= 5:
                return

    try:
        await asyncio.wait_for(watch(), 40)
    finally:
        await source.aclose()
    assert sessions_seen[0] == 1 and sessions_seen.count(1) >= 5
    assert [o.port for o in inviter.offers][:2] and len(inviter.offers) == 2
    assert inviter.byes == ["call-1", "call-2"]
    assert source.health.reconnects == 1
