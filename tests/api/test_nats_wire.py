"""The link's wire format (api/nats/wire.py) and the intake's idempotence a redelivering link relies on.

Every message of models/link.py survives its JSON form unchanged; another version or type is refused. A
START, UPDATE, END and clip delivered twice (JetStream redelivers what the centre had not acked) leave one
incident, one event row and one evidence row per blob, as the first delivery did.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import typing
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest

from api.nats.wire import WireError, decode_command, decode_heartbeat, decode_message, encode, message_id
from api.site import demo_site
from models.link import (
    AnalysisMessage,
    CameraCommand,
    CameraEventReport,
    ClipReport,
    EventReport,
    NodeHeartbeat,
    RunCamera,
    StopCamera,
    WatchZone,
    ZoneReport,
    ZoneVerdict,
)
from models.records import CrowdWindow, EventKind, EventPhase, EvidenceBlob, ZoneKind
from models.store import NotFound, Store
from tests.rig import T0, crowd_output, demo_rig


def _clip(event_id: uuid.UUID) -> ClipReport:
    return ClipReport(event_id, EvidenceBlob("clip", "video/mp4", "ab" * 32, b"\x00\x00\x00\x20ftypisom"))


def _episode() -> list[AnalysisMessage]:
    start = crowd_output(100)
    event = start.event
    update = EventReport(EventPhase.UPDATE, replace(event, person_count=7, confidence=0.9))
    end = EventReport(EventPhase.END, replace(event, person_count=7, ended_at=T0 + timedelta(seconds=40)))
    return [start, update, end, _clip(event.id)]


def test_every_message_and_command_survives_the_wire() -> None:
    camera = demo_site().cameras[0]
    start, update, end, clip = _episode()
    snapshot = EvidenceBlob("s", "image/jpeg", "cd", b"j")
    zone = ZoneReport(uuid.uuid4(), uuid.uuid4(), camera.id, ZoneVerdict.CLEAR, T0, snapshot)
    tamper = CameraEventReport(
        camera.id, "tns1:VideoSource/GlobalSceneChange/ImagingService", True, T0, {"Source": "VideoSource_1"}
    )
    for message in (start, clip, zone, replace(zone, snapshot=None), tamper):
        assert decode_message(encode(message)) == message
    # An UPDATE or END refreshes the stored event: what it says of it crosses, its boxes stay on the node.
    assert start.event.detections  # type: ignore[union-attr]
    for later in (update, end):
        assert isinstance(later, EventReport)
        assert decode_message(encode(later)) == replace(
            later, event=replace(later.event, detections=(), evidence=())
        )
    assert message_id(tamper) != message_id(replace(tamper, active=False))
    assert message_id(decode_message(encode(tamper))) == message_id(tamper)
    watch = WatchZone(uuid.uuid4(), uuid.uuid4(), camera.id, "road", EventKind.CROWD, 600.0)
    for command in (RunCamera(camera), StopCamera(camera.id), watch):
        assert decode_command(encode(command)) == command
    # A township node gets its crowd zones' grid-kind thresholds with the camera (router/crowd_thresholds.py).
    market = (CrowdWindow("05:00-09:00", "Asia/Shanghai", 60, 1.5, 120.0),)
    zones = tuple(replace(z, crowd_windows=market) if z.kind is ZoneKind.CROWD else z for z in camera.zones)
    windowed = RunCamera(replace(camera, zones=zones))
    assert decode_command(encode(windowed)) == windowed
    beat = NodeHeartbeat("node-1", "379901001", 4, 3.9, 0.71, T0, ("cam-a",))
    assert decode_heartbeat(encode(beat)) == beat
    with pytest.raises(WireError):
        decode_message(encode(beat))  # a heartbeat is never an event, even if one reached the stream
    # Explicit fields, readable by any language: the START's snapshot is base64, its time ISO with offset.
    body = json.loads(encode(start))
    assert body["v"] == 1 and body["type"] == "EventReport"
    assert body["body"]["event"]["started_at"] == "2026-11-23T02:00:00+00:00"
    assert body["body"]["event"]["id"] == str(start.event.id)  # type: ignore[union-attr]


def test_every_kind_of_message_has_a_wire_form() -> None:
    # A message added to models/link.py without one would be refused by every centre across machines.
    from api.nats.wire import _COMMANDS, _MESSAGES

    # A node's heartbeat is a link message too, though it travels beside the stream (api/nats/health.py).
    assert {t.__name__ for t in typing.get_args(AnalysisMessage)} | {NodeHeartbeat.__name__} == set(_MESSAGES)
    assert {t.__name__ for t in typing.get_args(CameraCommand)} == set(_COMMANDS)


def test_message_ids_name_a_message_not_a_delivery() -> None:
    start, update, end, clip = _episode()
    ids = [message_id(m) for m in (start, update, end, clip)]
    assert len(set(ids)) == 4
    assert [message_id(decode_message(encode(m))) for m in (start, end, clip)] == [ids[0], ids[2], ids[3]]
    assert message_id(update) == ids[1]
    assert isinstance(update, EventReport)
    assert message_id(replace(update, event=replace(update.event, person_count=9))) != ids[1]


@pytest.mark.parametrize(
    "wire",
    [
        b"\x80\x04pickle",
        b'{"v": 2, "type": "EventReport", "body": {}}',
        b'{"v": 1, "type": "os.system", "body": {}}',
        b'{"v": 1, "type": "ClipReport", "body": {"event_id": "not-a-uuid"}}',
        b'{"v": 1, "type": "StopCamera", "body": {"camera_id": 5}}',
        b'{"v": true, "type": "EventReport", "body": {}}',
        b'["v", 1]',
        b'{"v": 1, "type": "ClipReport", "body": {"event_id": "8d1c0d6e-2b3c-4f5e-9a7b-1c2d3e4f5a6b", '
        b'"clip": {"id": "c", "media_type": "video/mp4", "sha256": "ab", "data": "%%%"}}}',
    ],
)
def test_what_is_not_this_wire_is_refused(wire: bytes) -> None:
    with pytest.raises(WireError):
        decode_message(wire) if b"StopCamera" not in wire else decode_command(wire)


def test_a_naive_time_never_leaves_the_node() -> None:
    start = crowd_output(100)
    naive = replace(start, event=replace(start.event, started_at=T0.replace(tzinfo=None)))
    with pytest.raises(WireError, match="naive"):
        encode(naive)
    # Nor enters the centre from another sender: a time without an offset cannot be put on its clock.
    body = json.loads(encode(start))
    body["body"]["event"]["ended_at"] = "2026-11-23T02:00:40"
    with pytest.raises(WireError, match=r"naive datetime at \.event\.ended_at"):
        decode_message(json.dumps(body).encode())
    body["body"]["event"]["ended_at"] = "2026-11-23T10:00:40+08:00"
    assert decode_message(json.dumps(body).encode()).event.ended_at == T0 + timedelta(seconds=40)  # type: ignore[union-attr]


async def _twice(messages: list[AnalysisMessage]) -> AsyncIterator[list[AnalysisMessage]]:
    yield [decode_message(encode(message)) for message in messages]
    # The whole episode again, as after a centre restart before its acks: one fetch, then one at a time.
    yield [decode_message(encode(message)) for message in messages]
    for message in messages:
        yield [decode_message(encode(message))]


async def test_a_redelivered_episode_makes_no_second_incident_or_row(store: Store) -> None:
    rig = await demo_rig(store)
    rig.centre.intake.retry_clips = True
    settled: list[tuple[str, BaseException | None]] = []

    async def record(message: AnalysisMessage, error: BaseException | None) -> None:
        settled.append((type(message).__name__, error))

    other = crowd_output(500)  # another event in the same groups, stored once whatever its neighbour does
    episode = _episode()
    await rig.centre.intake.run_batches(_twice([*episode, other]), settled=record)
    await rig.stop()

    assert [error for _, error in settled] == [None] * 15
    incidents, total = await store.incidents.page()
    assert total == 2
    mine = next(i for i in incidents if i.event_count and i.grid_code == "379901001001001")
    events = await store.incidents.events(mine.id)
    assert [e.id for e in events] == [episode[0].event.id]  # type: ignore[union-attr]
    assert sorted(e.role for e in events[0].evidence) == ["clean", "clip", "snapshot"]
    assert events[0].person_count == 7 and events[0].ended_at == T0 + timedelta(seconds=40)
    assert {i.event_count for i in incidents} == {1}
    rows = await store.pool.fetchval("SELECT count(*) FROM evidence")
    assert rows == 5  # two events' snapshot and clean, one clip


async def test_an_end_before_its_start_is_refused_for_redelivery_on_a_link_and_dropped_in_one_process(
    store: Store,
) -> None:
    """A redelivery can bring an episode's END before its START: over a link the intake raises NotFound (the
    link naks it and it comes back after the START), instead of refreshing nothing and acking it."""
    rig = await demo_rig(store)
    start, _, end, _ = _episode()
    with pytest.raises(NotFound):
        rig.centre.intake.retry_clips = True
        await rig.centre.intake.handle(end)
    rig.centre.intake.retry_clips = False
    assert await rig.centre.intake.handle(end) is None  # one process: its START failed, nothing to wait for
    await rig.centre.intake.handle(start)
    rig.centre.intake.retry_clips = True
    await rig.centre.intake.handle(end)
    await rig.stop()
    [incident] = (await store.incidents.page())[0]
    [event] = await store.incidents.events(incident.id)
    assert (event.person_count, event.ended_at) == (7, T0 + timedelta(seconds=40))


async def test_a_message_cut_off_half_way_is_settled_as_unhandled(store: Store) -> None:
    """Intake stopped mid-message (its task cancelled): the link hears of the cancellation, not of a success,
    so it neither acks nor naks and the stream brings the message back to the next intake."""
    rig = await demo_rig(store)
    begun = asyncio.Event()
    settled: list[BaseException | None] = []

    async def hang(message: AnalysisMessage) -> None:
        begun.set()
        await asyncio.Event().wait()

    async def record(message: AnalysisMessage, error: BaseException | None) -> None:
        settled.append(error)

    async def one() -> AsyncIterator[list[AnalysisMessage]]:
        yield [crowd_output(100), _clip(uuid.uuid4())]
        await asyncio.Event().wait()

    rig.centre.intake.handle = hang  # type: ignore[assignment,method-assign]
    running = asyncio.create_task(rig.centre.intake.run_batches(one(), settled=record))
    await asyncio.wait_for(begun.wait(), 5)
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    await rig.stop()
    # The START was stored before the clip hung; the batch is settled as a whole, as cut off.
    assert len(settled) == 2 and all(isinstance(error, asyncio.CancelledError) for error in settled)
