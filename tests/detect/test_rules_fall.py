from __future__ import annotations

import numpy as np

from detect.analysis.analyzer import CameraAnalyzer
from detect.rules import FallRule
from models.records import Camera, Detection, EventKind, Mount, ZoneKind

from .helpers import at, box, run, zone

LANE = zone(ZoneKind.OCCUPATION, cooldown_seconds=5)
DOWN = box(300, 300, w=100, h=40, label="fall", conf=0.8)
UNSURE = box(300, 300, w=100, h=40, label="fall", conf=0.4)


def frames(pattern: str, hit: Detection = DOWN) -> list[tuple[float, list[Detection]]]:
    return [(i * 0.5, [hit] if c == "x" else []) for i, c in enumerate(pattern)]


def test_a_person_down_for_four_of_six_frames_is_a_fall() -> None:
    outputs = run(FallRule(LANE, update_interval_seconds=1000), frames("xx.xx" + "." * 20))
    assert [(t, phase) for t, phase, _ in outputs] == [(2.0, "start"), (8.0, "end")]
    start = outputs[0][2]
    assert start.kind is EventKind.FALL and start.person_count == 1 and start.started_at == at(0)


def test_flickering_or_unsure_falls_are_ignored() -> None:
    assert run(FallRule(LANE), frames("x.x.x.x.x.x.")) == []
    assert run(FallRule(LANE), frames("xxxxxxxx", UNSURE)) == []


def test_the_analyzer_raises_falls_in_zones_where_people_walk() -> None:
    camera = Camera("cam-1", "test", "test.avi", (640, 480), Mount((118.63, 35.79)), zones=(LANE,))
    analyzer = CameraAnalyzer(camera, tracker=_NoTracker())
    image = np.zeros((480, 640, 3), np.uint8)
    kinds = [o.event.kind for i in range(6) for o in analyzer.analyze([DOWN], image, at(i * 0.5))]
    assert kinds == [EventKind.FALL]


class _NoTracker:
    def update(self, detections: list[Detection]) -> list[Detection]:
        return list(detections)
