from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.frames import Frame
from ingest.health import CameraState
from ingest.sources import FileSource
from models.clock import SystemClock

VTEST_FRAMES = 795
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


class VirtualTime:
    """A monotonic clock and a Clock that move only when the source waits, and as far as it waits.

    The source's worker thread waits and reads it; the event loop reads it too (health changes). The
    source's pacing is then checked on the time it asked to wait, not on how busy the machine was.
    """

    def __init__(self, after_wait: Callable[[int], None] = lambda waits: None) -> None:
        self.seconds = 0.0
        self.waits = 0
        self._after_wait = after_wait

    def monotonic(self) -> float:
        return self.seconds

    def now(self) -> datetime:
        return T0 + timedelta(seconds=self.seconds)

    def wait(self, delay_s: float) -> bool:
        """Advance by delay_s at once; never reports a stop (the source checks its stop flag itself)."""
        self.seconds += delay_s
        self.waits += 1
        self._after_wait(self.waits)
        return False


def paced(
    path: Path, time_: VirtualTime, *, queue_size: int, fps_override: float | None = None
) -> FileSource:
    """A real-time FileSource on virtual time: frames stamped, and paced, by ``time_``."""
    return FileSource(
        "cam-file",
        path,
        time_,
        realtime=True,
        fps_override=fps_override,
        queue_size=queue_size,
        monotonic=time_.monotonic,
        wait=time_.wait,
    )


async def take(source: FileSource, count: int) -> list[Frame]:
    frames: list[Frame] = []
    async for frame in source.frames():
        frames.append(frame)
        if len(frames) == count:
            break
    return frames


async def test_frames_are_bgr_images_with_increasing_index(vtest: Path) -> None:
    source = FileSource("cam-file", vtest, SystemClock(), realtime=False)
    try:
        frames = await asyncio.wait_for(take(source, 30), 30)
    finally:
        await source.aclose()
    assert all(f.image.shape == (576, 768, 3) and f.image.dtype.name == "uint8" for f in frames)
    assert all(f.camera_id == "cam-file" for f in frames)
    assert [f.index for f in frames] == sorted({f.index for f in frames})
    assert frames[0].index == 0 and frames[0].keyframe
    assert all(f.captured_at.tzinfo is UTC for f in frames)
    assert frames[0].size == (768, 576)


async def test_loops_past_the_end_of_the_file(vtest: Path) -> None:
    # A queue deep enough to hold everything, so that no frame is dropped and indices are contiguous.
    source = FileSource("cam-file", vtest, SystemClock(), realtime=False, queue_size=2000)
    try:
        frames = await asyncio.wait_for(take(source, VTEST_FRAMES + 60), 60)
    finally:
        await source.aclose()
    assert [f.index for f in frames] == list(range(VTEST_FRAMES + 60))
    # The first frame of the second pass is the file's first frame again.
    assert (frames[VTEST_FRAMES].image == frames[0].image).all()
    assert frames[VTEST_FRAMES].keyframe


async def test_without_loop_the_stream_ends_and_the_camera_goes_offline(vtest: Path) -> None:
    source = FileSource("cam-file", vtest, SystemClock(), loop=False, realtime=False, queue_size=2000)
    try:
        frames = await asyncio.wait_for(take(source, VTEST_FRAMES + 10), 60)
        assert len(frames) == VTEST_FRAMES
        assert source.health.state is CameraState.OFFLINE
        assert source.health.reason == "end of file"
    finally:
        await source.aclose()


@pytest.mark.parametrize(
    ("fps_override", "fps"),
    [(None, 10.0), (40.0, 40.0)],  # vtest.avi's own 10 fps, or the rate asked for
)
async def test_realtime_plays_at_the_frame_rate(vtest: Path, fps_override: float | None, fps: float) -> None:
    time_ = VirtualTime()
    # Deep enough that no frame is dropped while the worker runs ahead on virtual time.
    source = paced(vtest, time_, fps_override=fps_override, queue_size=2000)
    try:
        frames = await asyncio.wait_for(take(source, 20), 10)
    finally:
        await source.aclose()
    assert [f.index for f in frames] == list(range(20))
    # Frames are stamped with the virtual time they went out at: the first at once, each next one after
    # waiting one period, so the 20th after the source waited 19 periods (1.9 s at 10 fps, 0.475 s at 40).
    assert frames[0].captured_at == T0
    assert frames[19].captured_at - frames[0].captured_at == timedelta(seconds=19 / fps)
    assert {b.captured_at - a.captured_at for a, b in itertools.pairwise(frames)} == {
        timedelta(seconds=1 / fps)
    }
    assert source.health.fps == pytest.approx(fps)


async def test_a_slow_consumer_gets_the_newest_frame(vtest: Path) -> None:
    loop = asyncio.get_running_loop()
    first_taken = threading.Event()
    sixty_more = asyncio.Event()

    def after_wait(waits: int) -> None:
        # The worker waits before every frame but the first (index 0): wait n is followed by frame n.
        if waits == 1:
            first_taken.wait(10)  # hold frame 1 until the consumer has frame 0
        elif waits == 61:
            loop.call_soon_threadsafe(sixty_more.set)  # frames 1…60 are posted ahead of this

    source = paced(vtest, VirtualTime(after_wait), queue_size=1)
    frames = source.frames()
    try:
        first = await asyncio.wait_for(anext(frames), 10)
        first_taken.set()
        # An analyser busy with one frame while the decoder runs on.
        await asyncio.wait_for(sixty_more.wait(), 10)
        second = await asyncio.wait_for(anext(frames), 10)
        assert source.latest is not None
        assert second.index == source.latest.index
        assert second.index - first.index > 50
        assert source.dropped > 50
    finally:
        first_taken.set()
        await frames.aclose()
        await source.aclose()


async def test_aclose_stops_decoding_and_ends_the_stream(vtest: Path) -> None:
    source = FileSource("cam-file", vtest, SystemClock())
    frames = source.frames()
    await asyncio.wait_for(anext(frames), 10)
    await asyncio.wait_for(source.aclose(), 5)
    latest = source.latest
    await asyncio.sleep(0.3)
    assert source.latest is latest
    assert source.health.state is CameraState.OFFLINE
    assert source.health.reason == "closed"
    # Only what was already queued (at most queue_size frames) is left to drain, then the stream ends.
    leftover = await asyncio.wait_for(_drain(frames), 5)
    assert len(leftover) <= 2


async def _drain(frames: AsyncIterator[Frame]) -> list[Frame]:
    return [frame async for frame in frames]


async def test_a_missing_file_reports_offline_and_yields_nothing(tmp_path: Path) -> None:
    source = FileSource("cam-file", tmp_path / "missing.avi", SystemClock())
    try:
        frames = await asyncio.wait_for(_collect(source), 10)
        assert frames == []
        assert source.health.state is CameraState.OFFLINE
        assert source.health.reason.startswith("cannot open video file")
    finally:
        await source.aclose()


async def _collect(source: FileSource) -> list[Frame]:
    return [frame async for frame in source.frames()]
