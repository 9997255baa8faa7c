"""PacketTrack: a viewer's passed-through packets follow the camera's current pull and never step back."""

from __future__ import annotations

import asyncio

import av

from api.webrtc import PacketTrack
from ingest.packets import PacketFanout

IDR = b"\x00\x00\x00\x01\x67sps\x00\x00\x00\x01\x68pps\x00\x00\x00\x01\x65idr"
P = b"\x00\x00\x00\x01\x41p"


def fanout() -> PacketFanout:
    made = PacketFanout("cam")
    made.bind(asyncio.get_running_loop())
    made.opened("h264", None)
    return made


async def next_packet(
    track: PacketTrack, publish: list[tuple[PacketFanout, bytes, bool, float]], wait_s: float = 0.05
) -> av.Packet:
    receiving = asyncio.create_task(track.recv())
    await asyncio.sleep(wait_s)  # the track subscribes inside recv (after a pause when its source closed)
    for target, data, keyframe, seconds in publish:
        target.publish(data, keyframe, seconds)
    return await asyncio.wait_for(receiving, 2)


async def test_a_viewer_carries_on_when_the_analysis_restarts_the_camera_with_a_new_source() -> None:
    first, second = fanout(), fanout()
    current: list[PacketFanout | None] = [first]
    track = PacketTrack(lambda: current[0])
    one = await next_packet(track, [(first, P, False, 5.0), (first, IDR, True, 5.1)])
    assert bytes(one) == IDR  # the mid-GOP packet before it was not sent
    two = await next_packet(track, [(first, P, False, 5.14)])
    current[0] = second
    first.end()  # the old source closed; the new one's clock starts again at 0
    three = await next_packet(track, [(second, IDR, True, 0.0)], wait_s=0.5)
    assert bytes(three) == IDR
    assert one.pts is not None and two.pts is not None and three.pts is not None
    assert one.pts < two.pts < three.pts
    track.stop()
    assert not second.watched


async def test_a_viewer_waits_while_the_camera_has_no_pull() -> None:
    current: list[PacketFanout | None] = [None]
    track = PacketTrack(lambda: current[0])
    receiving = asyncio.create_task(track.recv())
    await asyncio.sleep(0.3)
    assert not receiving.done()
    current[0] = later = fanout()
    await asyncio.sleep(0.3)
    later.publish(IDR, True, 1.0)
    packet = await asyncio.wait_for(receiving, 2)
    assert bytes(packet) == IDR
    track.stop()
