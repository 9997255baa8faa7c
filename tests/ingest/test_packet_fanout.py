"""PacketFanout: what a viewer of a passed-through camera gets, and what it may never cost the source."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ingest.packets import CLOCK_RATE, PacketFanout

SPS_PPS = b"\x00\x00\x00\x01\x67sps\x00\x00\x00\x01\x68pps"
IDR = b"\x00\x00\x00\x01\x65idr"
P = b"\x00\x00\x00\x01\x41p"


async def settle() -> None:
    # publish() posts to the loop; two turns let the posted callbacks run.
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def test_nothing_is_copied_or_posted_while_nobody_watches() -> None:
    fanout = PacketFanout("cam")
    fanout.bind(asyncio.get_running_loop())
    fanout.opened("h264", SPS_PPS)
    for index in range(100):
        fanout.publish(IDR if index % 10 == 0 else P, index % 10 == 0, index / 10)
    assert fanout.published == 0
    assert not fanout.watched


async def test_a_viewer_starts_at_the_next_keyframe_with_its_parameter_sets() -> None:
    fanout = PacketFanout("cam")
    fanout.bind(asyncio.get_running_loop())
    fanout.opened("h264", SPS_PPS)
    viewer = fanout.subscribe()
    fanout.publish(P, False, 0.0)  # mid-GOP: useless without the keyframe before it
    fanout.publish(P, False, 0.1)
    fanout.publish(IDR, True, 0.2)
    fanout.publish(P, False, 0.3)
    await settle()
    first, second = await viewer.get(), await viewer.get()
    assert first is not None and second is not None
    assert first.keyframe and first.data == SPS_PPS + IDR
    assert second.data == P
    assert second.pts - first.pts == round(0.1 * CLOCK_RATE)
    assert viewer.dropped == 2


async def test_a_keyframe_that_carries_its_sps_is_passed_as_is() -> None:
    fanout = PacketFanout("cam")
    fanout.bind(asyncio.get_running_loop())
    fanout.opened("h264", SPS_PPS)
    viewer = fanout.subscribe()
    fanout.publish(SPS_PPS + IDR, True, 0.0)
    await settle()
    packet = await viewer.get()
    assert packet is not None and packet.data == SPS_PPS + IDR


async def test_a_stalled_viewer_is_bounded_and_restarts_at_a_keyframe() -> None:
    fanout = PacketFanout("cam", queue_limit=5)
    fanout.bind(asyncio.get_running_loop())
    fanout.opened("h264", SPS_PPS)
    stalled, reading = fanout.subscribe(), fanout.subscribe()
    got: list[bytes] = []
    for index in range(33):  # GOP of 10; the stalled viewer never reads
        fanout.publish(IDR if index % 10 == 0 else P, index % 10 == 0, index / 10)
        await settle()
        packet = await reading.get()
        assert packet is not None
        got.append(packet.data)
        assert len(stalled) <= 5
    assert len(got) == 33, "the reading viewer lost packets because of the stalled one"
    assert stalled.restarts >= 3
    assert stalled.dropped > 0
    # What the stalled viewer holds now starts at a keyframe: playable once it reads again.
    first = await stalled.get()
    assert first is not None and first.keyframe


async def test_publishing_never_blocks_the_worker_thread_on_a_stalled_viewer() -> None:
    fanout = PacketFanout("cam", queue_limit=3)
    fanout.bind(asyncio.get_running_loop())
    fanout.opened("h264", None)
    fanout.subscribe()  # never read

    def worker() -> None:
        for index in range(2000):
            fanout.publish(IDR if index % 25 == 0 else P, index % 25 == 0, index / 25)

    thread = threading.Thread(target=worker)
    thread.start()
    await asyncio.to_thread(thread.join, 10)
    assert not thread.is_alive()
    assert fanout.published == 2000


async def test_timestamps_go_forward_across_a_reconnect() -> None:
    fanout = PacketFanout("cam")
    fanout.bind(asyncio.get_running_loop())
    fanout.opened("h264", None)
    viewer = fanout.subscribe()
    fanout.publish(IDR, True, 1000.0)
    fanout.publish(P, False, 1000.04)
    fanout.opened("h264", None)  # the new connection's pts start again near zero
    fanout.publish(IDR, True, 0.0)
    fanout.publish(P, False, 0.04)
    await settle()
    stamps = []
    while len(viewer):
        packet = await viewer.get()
        assert packet is not None
        stamps.append(packet.pts)
    assert stamps == sorted(stamps) and len(stamps) == 4
    assert stamps[3] - stamps[2] == round(0.04 * CLOCK_RATE)


async def test_closing_the_source_ends_every_viewer() -> None:
    fanout = PacketFanout("cam")
    fanout.bind(asyncio.get_running_loop())
    viewer = fanout.subscribe()
    waiting = asyncio.create_task(viewer.get())
    await settle()
    fanout.end()
    assert await asyncio.wait_for(waiting, 1) is None
    assert (await fanout.subscribe().get()) is None
    assert not fanout.watched


def test_a_queue_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="queue_limit"):
        PacketFanout("cam", queue_limit=0)
