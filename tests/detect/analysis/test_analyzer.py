from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from detect.analysis.analyzer import CameraAnalyzer
from detect.backends.ultralytics import UltralyticsDetector
from detect.rules import Model, Phase
from models.link import EventReport
from models.records import Camera, Detection, EventKind, LineDirection, Mount, Zone, ZoneKind

from ..conftest import read_frames
from ..helpers import SQUARE, T0, at, persons_inside, zone


class NoTracker:
    def update(self, detections: Sequence[Detection]) -> list[Detection]:
        return list(detections)


def camera_with(*zones: object) -> Camera:
    return Camera("cam-1", "test", "test.avi", (640, 480), Mount((118.63, 35.79)), zones=zones)  # type: ignore[arg-type]


def test_crowd_episode_becomes_one_event_with_evidence() -> None:
    crowd = zone(ZoneKind.CROWD, min_persons=5, min_seconds=5, cooldown_seconds=10)
    analyzer = CameraAnalyzer(camera_with(crowd), tracker=NoTracker())
    image = np.full((480, 640, 3), 90, np.uint8)
    outputs = []
    for i in range(60):
        people = persons_inside(6) if i < 20 else []
        outputs += analyzer.analyze(people, image, at(i * 0.5))
    assert [o.phase for o in outputs] == [Phase.START, Phase.END]
    start, end = outputs
    event = start.event
    assert (event.kind, event.camera_id, event.zone_name) == (EventKind.CROWD, "cam-1", crowd.name)
    assert event.started_at == at(0) and event.ended_at is None
    assert event.person_count == 6 and len(event.detections) == 6
    snapshot_blob, clean_blob = start.evidence
    assert (snapshot_blob.role, clean_blob.role) == ("snapshot", "clean")
    assert snapshot_blob.data and clean_blob.data
    snapshot, clean = event.evidence
    assert snapshot.sha256 == snapshot_blob.sha256 == hashlib.sha256(snapshot_blob.data).hexdigest()
    assert clean.sha256 == clean_blob.sha256 == hashlib.sha256(clean_blob.data).hexdigest()
    assert (snapshot.media_type, snapshot.size) == ("image/jpeg", len(snapshot_blob.data))
    assert end.event.id == event.id  # same episode
    # Gone at 10 s, tracked people still count for dropout_seconds (1), then cooldown_seconds (10).
    assert end.event.ended_at == at(21.0) and end.evidence == ()


def test_fire_zones_watch_fire_and_smoke() -> None:
    fire_zone = zone(ZoneKind.FIRE)
    analyzer = CameraAnalyzer(camera_with(fire_zone), tracker=NoTracker())
    image = np.zeros((480, 640, 3), np.uint8)
    # A plume drifting right and growing: the temporal stage needs the region to change between checks.
    kinds = [
        o.event.kind
        for i in range(5)
        for o in analyzer.analyze([drifting("smoke", i, 0.7)], image, at(i * 0.5))
    ]
    assert kinds == [EventKind.SMOKE]


def drifting(label: str, i: int, confidence: float) -> Detection:
    """A flame or plume whose box changes from one look to the next, as real ones do (flicker, spread)."""
    grow = 25.0 * (i % 3)
    return Detection((200.0, 150.0 - grow, 300.0 + grow, 250.0), confidence, label, 1)


def fire_every_fourth_frame(analyzer: CameraAnalyzer, *, tell_which_ran: bool) -> list[EventReport]:
    """20 s at 2 fps with a flame in the zone; the fire model looks only at every 4th frame (every 2 s)."""
    image = np.zeros((480, 640, 3), np.uint8)
    outputs: list[EventReport] = []
    for i in range(40):
        fire_ran = i % 4 == 0
        detections = [*persons_inside(2), *([drifting("fire", i, 0.5)] if fire_ran else [])]
        ran = {Model.PERSON, Model.FIRE} if fire_ran or not tell_which_ran else {Model.PERSON}
        outputs += analyzer.analyze(detections, image, at(i * 0.5), ran=ran)
    return outputs


def test_fire_votes_only_on_frames_the_fire_model_saw() -> None:
    fire_zone = zone(ZoneKind.FIRE)
    analyzer = CameraAnalyzer(camera_with(fire_zone), tracker=NoTracker())
    assert analyzer.models == {Model.FIRE}
    outputs = fire_every_fourth_frame(analyzer, tell_which_ran=True)
    starts = [o for o in outputs if o.phase is Phase.START]
    assert [o.event.kind for o in starts] == [EventKind.FIRE]
    # k=3 of n=5 fire-model frames: the flames seen at 0, 2 and 4 s confirm it, dated from the first.
    assert starts[0].event.started_at == at(0)
    assert {d.label for d in starts[0].event.detections} == {"fire"}


def test_frames_without_the_fire_model_would_outvote_the_fire() -> None:
    """The control: fed every frame as if the fire model had seen it, 1 in 4 never reaches 3 of 5."""
    analyzer = CameraAnalyzer(camera_with(zone(ZoneKind.FIRE)), tracker=NoTracker())
    assert fire_every_fourth_frame(analyzer, tell_which_ran=False) == []


def test_person_rules_run_on_every_frame_whatever_the_fire_model_did() -> None:
    crowd = zone(ZoneKind.CROWD, min_persons=2, min_seconds=1)
    analyzer = CameraAnalyzer(camera_with(crowd), tracker=NoTracker())
    assert analyzer.models == {Model.PERSON}
    image = np.zeros((480, 640, 3), np.uint8)
    outputs = [
        o
        for i in range(4)
        for o in analyzer.analyze(persons_inside(3), image, at(i * 0.5), ran={Model.PERSON})
    ]
    assert [o.event.kind for o in outputs] == [EventKind.CROWD]


def test_zones_are_independent() -> None:
    crowd = zone(ZoneKind.CROWD, min_persons=2, min_seconds=1)
    lane = Zone("lane", ZoneKind.OCCUPATION, ((520, 100), (640, 100), (640, 400), (520, 400)), min_seconds=1)
    analyzer = CameraAnalyzer(camera_with(crowd, lane), tracker=NoTracker())
    image = np.zeros((480, 640, 3), np.uint8)
    outputs = [o for i in range(4) for o in analyzer.analyze(persons_inside(3), image, at(i * 0.5))]
    assert [(o.event.kind, o.event.zone_name) for o in outputs] == [(EventKind.CROWD, crowd.name)]
    assert SQUARE[1][0] < 520  # the persons stand in the square, left of the lane


@pytest.mark.slow
@pytest.mark.computes
@pytest.mark.parametrize("model", ["yolov8n", "fall_model"])
def test_demo_video_crowd_starts(
    model: str, request: pytest.FixtureRequest, demo_camera: Camera, vtest_path: Path
) -> None:
    """vtest.avi from frame 250 at 2 fps with the video's own timestamps: the road zone holds ≥ 5 people.

    Frames 300–520 alone are too thin for a 5 s dwell (4–6 people in the zone until ~frame 340, then 2–5).
    """
    detector: UltralyticsDetector = request.getfixturevalue(model)
    analyzer = CameraAnalyzer(demo_camera)
    starts = []
    for index, image in read_frames(vtest_path, 250, 400, 5):
        [detections] = detector.detect([image])
        for output in analyzer.analyze(detections, image, T0 + timedelta(seconds=index / 10)):
            starts.append((index, output))
    crowd = [(i, o) for i, o in starts if o.event.kind is EventKind.CROWD]
    assert crowd, f"no crowd event; outputs: {starts}"
    index, first = crowd[0]
    assert first.phase is Phase.START and first.event.zone_name == "road"
    assert first.event.person_count is not None and first.event.person_count >= 5
    assert index <= 320
    assert any(d.track_id is not None for d in first.event.detections)  # the tracker is wired in


@pytest.mark.slow
@pytest.mark.computes
def test_demo_video_parked_van_occupies_the_fire_lane(
    yolov8n: UltralyticsDetector, demo_camera: Camera, vtest_path: Path
) -> None:
    analyzer = CameraAnalyzer(demo_camera)
    outputs = []
    for index, image in read_frames(vtest_path, 0, 330, 5):
        [detections] = yolov8n.detect([image])
        outputs += [
            (index, o) for o in analyzer.analyze(detections, image, T0 + timedelta(seconds=index / 10))
        ]
    occupation = [(i, o) for i, o in outputs if o.event.kind is EventKind.OCCUPATION]
    assert len(occupation) == 1
    index, start = occupation[0]
    assert start.phase is Phase.START and start.event.zone_name == "fire-lane-by-building"
    assert index == 300  # the van is there from frame 0 and min_seconds is 30
    assert "vehicle" in {d.label for d in start.event.detections}
    assert not any(o.event.kind in (EventKind.FIRE, EventKind.SMOKE) for _, o in outputs)


def test_line_crossing_becomes_one_ended_event_with_evidence() -> None:
    entrance = Zone(
        "fire-lane-entrance",
        ZoneKind.LINE,
        ((100.0, 300.0), (500.0, 300.0)),
        direction=LineDirection.RIGHT_TO_LEFT,
    )
    analyzer = CameraAnalyzer(camera_with(entrance), tracker=NoTracker())
    image = np.full((480, 640, 3), 90, np.uint8)
    outputs = []
    # Two cars drive in one after the other; a third crosses out (allowed) and must stay silent.
    for car_id, ys in ((1, [400, 350, 250, 200]), (2, [420, 330, 260, 220]), (3, [200, 280, 350, 420])):
        for i, y in enumerate(ys):
            car = Detection((260.0, y - 60.0, 340.0, float(y)), 0.85, "vehicle", 2, car_id)
            outputs += analyzer.analyze([car], image, at(car_id * 10 + i * 0.5))
    assert [o.phase for o in outputs] == [Phase.START, Phase.START]
    first, second = outputs
    event = first.event
    assert (event.kind, event.camera_id, event.zone_name) == (
        EventKind.LINE_CROSSING,
        "cam-1",
        "fire-lane-entrance",
    )
    # A crossing has no duration: it is recorded as already ended, and the next one is its own event.
    assert event.started_at == event.ended_at == at(11)
    assert [d.track_id for d in event.detections] == [1]
    snapshot_blob, clean_blob = first.evidence
    assert (snapshot_blob.role, clean_blob.role) == ("snapshot", "clean")
    assert snapshot_blob.data and clean_blob.data
    snapshot, clean = event.evidence
    assert snapshot.sha256 == hashlib.sha256(snapshot_blob.data).hexdigest()
    assert clean.sha256 == hashlib.sha256(clean_blob.data).hexdigest()
    assert second.event.id != event.id and second.event.started_at == at(21)
