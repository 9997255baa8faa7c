from __future__ import annotations

from detect.tracking import ByteTracker
from models.records import Detection

from .helpers import box


def walkers(frame: int) -> list[Detection]:
    """Three people walking apart at 2 fps; detector confidences vary a little."""
    return [
        box(100 + 12 * frame, 300, conf=0.80 + 0.01 * (frame % 3)),
        box(400 - 10 * frame, 320, conf=0.70),
        box(250, 450 - 8 * frame, conf=0.60 + 0.02 * (frame % 2)),
    ]


def test_ids_persist_across_frames_and_keep_input_order() -> None:
    tracker = ByteTracker(frame_rate=2.0)
    ids_per_frame = []
    for frame in range(12):
        detections = walkers(frame)
        tracked = tracker.update(detections)
        assert [d.xyxy for d in tracked] == [d.xyxy for d in detections]  # boxes untouched, order kept
        ids_per_frame.append(tuple(d.track_id for d in tracked))
    settled = ids_per_frame[2:]
    assert all(None not in ids for ids in settled)
    assert len(set(settled)) == 1, ids_per_frame
    assert len(set(settled[0])) == 3


def test_a_brief_miss_keeps_the_id() -> None:
    tracker = ByteTracker(frame_rate=2.0, track_buffer_seconds=5.0)
    for _ in range(4):
        first = tracker.update([box(200, 300, w=120, h=80, label="vehicle")])
    tracker.update([])
    tracker.update([])
    again = tracker.update([box(201, 301, w=120, h=80, label="vehicle")])
    assert first[0].track_id is not None
    assert again[0].track_id == first[0].track_id


def test_empty_frames() -> None:
    assert ByteTracker().update([]) == []
