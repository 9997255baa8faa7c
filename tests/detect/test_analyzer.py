from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from detect.analyzer import CameraAnalyzer
from detect.backends.ultralytics import UltralyticsDetector
from detect.rules import Phase
from models.records import Camera, Detection, EventKind, Mount, Zone, ZoneKind

from .conftest import read_frames
from .helpers import SQUARE, T0, at, persons_inside, zone


class NoTracker:
    def update(self, detections: list[Detection]) -> list[Detection]:
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
    assert start.snapshot_jpeg is not None and start.clean_jpeg is not None
    snapshot, clean = event.evidence
    assert snapshot.sha256 == hashlib.sha256(start.snapshot_jpeg).hexdigest()
    assert clean.sha256 == hashlib.sha256(start.clean_jpeg).hexdigest()
    assert (snapshot.media_type, snapshot.size) == ("image/jpeg", len(start.snapshot_jpeg))
    assert end.event.id == event.id  # same episode
    # Gone at 10 s, tracked people still count for dropout_seconds (1), then cooldown_seconds (10).
    assert end.event.ended_at == at(21.0) and end.snapshot_jpeg is None


def test_fire_zones_watch_fire_and_smoke() -> None:
    fire_zone = zone(ZoneKind.FIRE)
    analyzer = CameraAnalyzer(camera_with(fire_zone), tracker=NoTracker())
    image = np.zeros((480, 640, 3), np.uint8)
    smoke = Detection((200.0, 150.0, 300.0, 250.0), 0.7, "smoke", 0)
    kinds = [o.event.kind for i in range(5) for o in analyzer.analyze([smoke], image, at(i * 0.5))]
    assert kinds == [EventKind.SMOKE]


def test_zones_are_independent() -> None:
    crowd = zone(ZoneKind.CROWD, min_persons=2, min_seconds=1)
    lane = Zone("lane", ZoneKind.OCCUPATION, ((520, 100), (640, 100), (640, 400), (520, 400)), min_seconds=1)
    analyzer = CameraAnalyzer(camera_with(crowd, lane), tracker=NoTracker())
    image = np.zeros((480, 640, 3), np.uint8)
    outputs = [o for i in range(4) for o in analyzer.analyze(persons_inside(3), image, at(i * 0.5))]
    assert [(o.event.kind, o.event.zone_name) for o in outputs] == [(EventKind.CROWD, crowd.name)]
    assert SQUARE[1][0] < 520  # the persons stand in the square, left of the lane


@pytest.mark.slow
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
