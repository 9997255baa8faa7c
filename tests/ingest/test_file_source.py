from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC
from pathlib import Path

from ingest.frames import Frame
from ingest.health import CameraState
from ingest.sources import FileSource
from models.clock import SystemClock

VTEST_FRAMES = 795


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


async def test_realtime_plays_at_the_file_frame_rate(vtest: Path) -> None:
    source = FileSource("cam-file", vtest, SystemClock(), realtime=True, queue_size=100)
    started = time.monotonic()
    try:
        frames = await asyncio.wait_for(take(source, 20), 10)
    finally:
        await source.aclose()
    elapsed = time.monotonic() - started
    assert len(frames) == 20
    assert 1.5 <= elapsed <= 3.0, f"20 frames at 10 fps took {elapsed:.2f} s"
    assert 7 <= source.health.fps <= 13


async def test_fps_override_changes_the_pace(vtest: Path) -> None:
    source = FileSource("cam-file", vtest, SystemClock(), fps_override=40, queue_size=100)
    started = time.monotonic()
    try:
        await asyncio.wait_for(take(source, 20), 10)
    finally:
        await source.aclose()
    elapsed = time.monotonic() - started
    assert 0.35 <= elapsed <= 1.0, f"20 frames at 40 fps took {elapsed:.2f} s"


async def test_a_slow_consumer_gets_the_newest_frame(vtest: Path) -> None:
    source = FileSource("cam-file", vtest, SystemClock(), realtime=False, queue_size=1)
    frames = source.frames()
    try:
        first = await asyncio.wait_for(anext(frames), 10)
        await asyncio.sleep(0.5)  # an analyser busy with one frame while the decoder runs on
        second = await asyncio.wait_for(anext(frames), 10)
        assert source.latest is not None
        assert second.index == source.latest.index
        assert second.index - first.index > 50
        assert source.dropped > 50
    finally:
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
