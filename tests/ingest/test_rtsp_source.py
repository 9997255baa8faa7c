"""RtspSource against the real GStreamer RTSP server playing vtest.avi at 640×480, 10 fps."""

from __future__ import annotations

import asyncio
import itertools
import logging
import signal
from collections.abc import AsyncIterator

import pytest

from ingest.frames import Frame
from ingest.health import CameraState
from ingest.sources import RtspSource
from models.clock import SystemClock
from tests.ingest.conftest import SERVER_PASSWORD
from tests.ingest.rtsp_peer import RtspPeer, free_port
from tests.ingest.waiting import Changes, health_changes, wait_until

WRONG_PASSWORD = "canary-Wrong-4e8b21"


async def take(frames: AsyncIterator[Frame], count: int) -> list[Frame]:
    taken: list[Frame] = []
    async for frame in frames:
        taken.append(frame)
        if len(taken) == count:
            break
    return taken


class Collector:
    """Consumes a source in the background, as the analysis loop would, ringing ``changes`` per frame."""

    def __init__(self, source: RtspSource, changes: Changes) -> None:
        self.frames: list[Frame] = []
        self._changes = changes
        self._task = asyncio.create_task(self._consume(source))

    async def _consume(self, source: RtspSource) -> None:
        async for frame in source.frames():
            self.frames.append(frame)
            self._changes.ring()

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.wait([self._task])


def state_of(source: RtspSource) -> CameraState:
    # A call, so that type checkers do not carry one assert's narrowing past the awaits that follow.
    return source.health.state


def assert_no_repeated_states(source: RtspSource) -> None:
    states = [t.state for t in source.health.transitions]
    assert all(a is not b for a, b in itertools.pairwise(states)), states


async def test_receives_decoded_frames(rtsp_peer: RtspPeer) -> None:
    source = RtspSource("cam-rtsp", rtsp_peer.url(), SystemClock(), queue_size=100)
    try:
        frames = await asyncio.wait_for(take(source.frames(), 40), 20)
    finally:
        await source.aclose()
    assert all(f.image.shape == (480, 640, 3) and f.image.dtype.name == "uint8" for f in frames)
    assert [f.index for f in frames] == list(range(40))
    assert frames[0].keyframe
    assert source.health.frames_total >= 40
    assert [t.state for t in source.health.transitions[:2]] == [CameraState.CONNECTING, CameraState.ONLINE]
    assert 5 <= source.health.fps <= 20


async def test_keyframes_only_skips_the_other_frames(rtsp_peer: RtspPeer) -> None:
    source = RtspSource("cam-rtsp", rtsp_peer.url(), SystemClock(), keyframes_only=True, queue_size=100)
    try:
        frames = await asyncio.wait_for(take(source.frames(), 4), 30)
    finally:
        await source.aclose()
    assert all(f.keyframe for f in frames)
    # The server sends a keyframe every 2 s (GOP = 2 × fps); allow for the burst buffered at connect.
    span_s = (frames[-1].captured_at - frames[0].captured_at).total_seconds()
    assert span_s >= 2.0


# A chaos test (the server killed and restarted): ./run test --fast leaves it out.
@pytest.mark.slow
@pytest.mark.waits
async def test_reconnects_after_the_server_is_killed_and_restarted(rtsp_peer: RtspPeer) -> None:
    source = RtspSource("cam-rtsp", rtsp_peer.url(), SystemClock(), read_timeout_s=3, stall_after_s=3)
    changes = health_changes(source.health)
    collector = Collector(source, changes)
    try:
        assert await changes.until(lambda: source.health.state is CameraState.ONLINE, 15)

        rtsp_peer.kill()
        lost = {CameraState.OFFLINE, CameraState.CONNECTING}
        assert await changes.until(lambda: source.health.state in lost, 3), (
            f"still {source.health.state} 3 s after the server died"
        )
        # A few reconnects refused (a count no state change announces: polled), and still offline.
        assert await wait_until(lambda: source.health.reconnects >= 2, 10)
        assert state_of(source) is CameraState.OFFLINE

        rtsp_peer.start()
        seen_before = len(collector.frames)
        assert await changes.until(lambda: len(collector.frames) > seen_before + 5, 15), (
            "no frames within 15 s of the server coming back"
        )
        assert state_of(source) is CameraState.ONLINE
        indices = [f.index for f in collector.frames]
        assert indices == sorted(set(indices))
    finally:
        await collector.stop()
        await source.aclose()
    states = [t.state for t in source.health.transitions]
    assert_no_repeated_states(source)
    assert states.count(CameraState.ONLINE) == 2
    assert states[:2] == [CameraState.CONNECTING, CameraState.ONLINE]
    assert states[-2:] == [CameraState.ONLINE, CameraState.OFFLINE]  # the last one is aclose()


# A chaos test (the server frozen past the stall limit): ./run test --fast leaves it out.
@pytest.mark.slow
@pytest.mark.waits
async def test_a_paused_server_is_reported_stalled_then_reconnected(rtsp_peer: RtspPeer) -> None:
    source = RtspSource(
        "cam-rtsp", rtsp_peer.url(), SystemClock(), open_timeout_s=3, read_timeout_s=4, stall_after_s=2
    )
    changes = health_changes(source.health)
    collector = Collector(source, changes)
    try:
        assert await changes.until(lambda: source.health.state is CameraState.ONLINE, 15)
        rtsp_peer.signal(signal.SIGSTOP)
        assert await changes.until(lambda: source.health.state is CameraState.STALLED, 10), (
            f"{source.health.state} instead of stalled 10 s after SIGSTOP"
        )
        assert source.health.reason.startswith("no frame for")
        # Once the read gives up (read_timeout_s) the source drops the dead session and reconnects.
        assert await wait_until(lambda: source.health.reconnects >= 1, 10), (
            "no reconnect attempt 10 s after the stall"
        )
        assert source.health.state in {CameraState.CONNECTING, CameraState.OFFLINE}

        rtsp_peer.signal(signal.SIGCONT)
        assert await changes.until(lambda: source.health.state is CameraState.ONLINE, 20), (
            f"{source.health.state} instead of online 20 s after SIGCONT"
        )
    finally:
        await collector.stop()
        await source.aclose()
    assert_no_repeated_states(source)
    states = [t.state for t in source.health.transitions]
    assert states[:3] == [CameraState.CONNECTING, CameraState.ONLINE, CameraState.STALLED]
    # A straggling frame may briefly bring it back online; the reconnect must still follow a stall.
    reconnecting = states.index(CameraState.CONNECTING, 1)
    assert states[reconnecting - 1] is CameraState.STALLED
    assert CameraState.ONLINE in states[reconnecting:]


async def test_wrong_password_is_auth_failed_and_never_logged(
    rtsp_auth_peer: RtspPeer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ingest")
    url = rtsp_auth_peer.url(user="U", password=WRONG_PASSWORD)
    source = RtspSource("cam-auth", url, SystemClock())
    changes = health_changes(source.health)
    source.start()
    try:
        assert await changes.until(lambda: source.health.state is CameraState.AUTH_FAILED, 15), (
            f"{source.health.state}: {source.health.reason}"
        )
        assert "401" in source.health.reason
    finally:
        await source.aclose()
    texts = [caplog.text, repr(source), source.masked_url] + [t.reason for t in source.health.transitions]
    assert caplog.records, "expected the failure to be logged"
    assert all(WRONG_PASSWORD not in text for text in texts)
    assert "rtsp://***:***@127.0.0.1" in caplog.text


async def test_right_password_gets_frames_and_is_never_logged(
    rtsp_auth_peer: RtspPeer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ingest")
    source = RtspSource("cam-auth", rtsp_auth_peer.url(user="U", password=SERVER_PASSWORD), SystemClock())
    try:
        frames = await asyncio.wait_for(take(source.frames(), 3), 20)
    finally:
        await source.aclose()
    assert len(frames) == 3
    assert caplog.records
    assert SERVER_PASSWORD not in caplog.text


async def test_an_unreachable_camera_is_offline_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ingest")
    password = "canary-Unreach-0c9d"
    url = f"rtsp://admin:{password}@127.0.0.1:{free_port()}/cam1"
    source = RtspSource("cam-down", url, SystemClock(), backoff=(0.05, 0.1))
    source.start()
    try:
        # Refused retries change no state: the reconnect count is polled.
        assert await wait_until(lambda: source.health.reconnects >= 3, 10)
    finally:
        await source.aclose()
    states = [t.state for t in source.health.transitions]
    # Refused retries do not flap through "connecting": one transition in, one (aclose) out.
    assert states == [CameraState.CONNECTING, CameraState.OFFLINE]
    assert source.health.transitions[1].reason.startswith("cannot open stream")
    assert password not in caplog.text


# A chaos test of a minute and a half: ./run test --fast leaves it out.
@pytest.mark.slow
@pytest.mark.waits
async def test_twenty_kills_and_restarts_are_each_noticed_and_recovered(rtsp_peer: RtspPeer) -> None:
    """Acceptance 2 of issue 3: offline within 2 s of each kill, a frame within 10 s of each restart."""
    source = RtspSource("cam-rtsp", rtsp_peer.url(), SystemClock())
    changes = health_changes(source.health)
    collector = Collector(source, changes)
    try:
        assert await changes.until(lambda: source.health.state is CameraState.ONLINE, 15)
        for cycle in range(20):
            rtsp_peer.kill()
            assert await changes.until(lambda: source.health.state is CameraState.OFFLINE, 2), (
                f"cycle {cycle}: {source.health.state} 2 s after the kill"
            )
            rtsp_peer.start()
            seen = len(collector.frames)
            assert await changes.until(lambda: len(collector.frames) > seen, 10), (  # noqa: B023
                f"cycle {cycle}: no frame within 10 s of the restart"
            )
            assert not collector._task.done(), "the consumer task ended"
    finally:
        await collector.stop()
        await source.aclose()
    states = [t.state for t in source.health.transitions]
    assert_no_repeated_states(source)
    cycle = [CameraState.CONNECTING, CameraState.OFFLINE, CameraState.ONLINE]
    assert states == [CameraState.CONNECTING, CameraState.ONLINE, *cycle * 20, CameraState.OFFLINE], states


# Seconds of real stream per GOP measurement: ./run test --fast leaves it out.
@pytest.mark.slow
@pytest.mark.waits
async def test_keyframes_only_once_the_gop_serves_the_analysis_rate(rtsp_peer: RtspPeer) -> None:
    """The server's GOP is 2 s: analysing every 2.5 s switches to keyframes only after three GOPs."""
    source = RtspSource("cam-rtsp", rtsp_peer.url(), SystemClock(), analysis_interval_s=2.5, queue_size=500)
    learning: list[Frame] = []

    async def until_switched() -> None:
        async for frame in source.frames():
            if source.decoding == "keyframes":
                return
            learning.append(frame)

    try:
        await asyncio.wait_for(until_switched(), 40)
        later = await asyncio.wait_for(take(source.frames(), 3), 30)
    finally:
        await source.aclose()
    assert len(learning) >= 40 and not all(f.keyframe for f in learning)  # all decoded while learning
    assert sum(f.keyframe for f in learning) >= 3
    assert all(f.keyframe for f in later)


# Seconds of real stream per GOP measurement: ./run test --fast leaves it out.
@pytest.mark.slow
@pytest.mark.waits
async def test_a_gop_longer_than_the_analysis_interval_keeps_every_frame(rtsp_peer: RtspPeer) -> None:
    source = RtspSource("cam-rtsp", rtsp_peer.url(), SystemClock(), analysis_interval_s=0.5, queue_size=500)
    try:
        frames = await asyncio.wait_for(take(source.frames(), 90), 40)  # ≥ 3 GOPs at 10 fps
    finally:
        await source.aclose()
    assert source.decoding == "all"
    assert sum(f.keyframe for f in frames) < len(frames) / 5
