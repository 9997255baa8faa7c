from __future__ import annotations

from collections.abc import Sequence

import pytest

from detect.rules import CrowdRule, Phase
from models.records import Detection, EventKind, ZoneKind

from .helpers import at, box, persons_inside, run, zone

STEP = 0.5  # the service analyses 2 frames per second


def timeline(
    *segments: tuple[float, float, int], tracked: bool = False
) -> list[tuple[float, list[Detection]]]:
    """Frames every STEP seconds; each segment is (from_s, to_s inclusive, persons in the zone)."""
    frames = []
    for start, end, count in segments:
        t = start
        while t <= end + 1e-9:
            people = persons_inside(count)
            if not tracked:
                people = [Detection(p.xyxy, p.confidence, p.label, p.class_id) for p in people]
            frames.append((round(t, 3), people))
            t += STEP
    return frames


CROWD = zone(ZoneKind.CROWD, min_persons=5, min_seconds=5, cooldown_seconds=10)


@pytest.mark.parametrize(
    ("case", "segments", "expected"),
    [
        ("steady crowd starts once min_seconds have passed", [(0, 8, 5)], [(5.0, "start")]),
        ("below min_persons never starts", [(0, 30, 4)], []),
        ("shorter than min_seconds never starts", [(0, 4.5, 6), (5, 20, 0)], []),
        ("a one-frame dip keeps the inertia timer", [(0, 1.5, 5), (2, 2, 4), (2.5, 6, 5)], [(5.0, "start")]),
        ("a long gap restarts the inertia timer", [(0, 2, 5), (2.5, 4, 0), (4.5, 10, 5)], [(9.5, "start")]),
        ("ends after cooldown below threshold", [(0, 5.5, 6), (6, 20, 2)], [(5.0, "start"), (16.0, "end")]),
        (
            "a return within cooldown keeps it open",
            [(0, 5.5, 6), (6, 10, 2), (10.5, 10.5, 5), (11, 25, 0)],
            [(5.0, "start"), (21.0, "end")],
        ),
        (
            "after END a new crowd needs min_seconds again",
            [(0, 5.5, 6), (6, 16, 0), (16.5, 25, 5)],
            [(5.0, "start"), (16.0, "end"), (21.5, "start")],
        ),
    ],
)
def test_crowd_inertia_and_hysteresis(
    case: str, segments: Sequence[tuple[float, float, int]], expected: list[tuple[float, str]]
) -> None:
    rule = CrowdRule(CROWD, update_interval_seconds=1000)
    assert [(t, phase) for t, phase, _ in run(rule, timeline(*segments))] == expected, case


def test_start_carries_the_persons_and_count() -> None:
    rule = CrowdRule(CROWD)
    outputs = run(rule, timeline((0, 5, 7)))
    assert len(outputs) == 1
    _, _, start = outputs[0]
    assert start.phase is Phase.START
    assert start.kind is EventKind.CROWD
    assert start.zone_name == CROWD.name
    assert start.person_count == 7 and len(start.detections) == 7
    assert start.started_at == at(0)
    assert start.confidence == pytest.approx(0.8)


def test_updates_are_rate_limited_and_report_the_peak() -> None:
    rule = CrowdRule(CROWD, update_interval_seconds=10)
    outputs = run(rule, timeline((0, 7, 5), (7.5, 8, 9), (8.5, 26, 6)))
    assert [(t, phase, o.person_count) for t, phase, o in outputs] == [
        (5.0, "start", 5),
        (15.0, "update", 9),
        (25.0, "update", 9),
    ]


def test_people_outside_the_zone_do_not_count() -> None:
    rule = CrowdRule(CROWD)
    outside = [box(600 + 10 * i, 300) for i in range(10)]
    assert run(rule, [(t * STEP, outside) for t in range(40)]) == []


def test_a_tracked_person_missed_for_a_frame_still_counts() -> None:
    rule = CrowdRule(CROWD, dropout_seconds=1.0)
    five, four = persons_inside(5), persons_inside(4)
    # Track 5 is missed every third frame (occluded); its last box keeps counting for up to a second.
    frames = [(i * STEP, four if i % 3 == 2 else five) for i in range(14)]
    outputs = run(rule, frames)
    assert [(t, phase, o.person_count) for t, phase, o in outputs] == [(5.0, "start", 5)]


def test_a_tracked_person_gone_longer_than_dropout_stops_counting() -> None:
    rule = CrowdRule(CROWD, dropout_seconds=1.0)
    frames = [(i * STEP, persons_inside(5)) for i in range(4)] + [
        (i * STEP, persons_inside(4)) for i in range(4, 20)
    ]
    assert run(rule, frames) == []


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (zone(ZoneKind.FIRE), "not a crowd zone"),
        (zone(ZoneKind.CROWD, min_persons=0), "min_persons"),
    ],
)
def test_invalid_zones_are_refused(bad: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CrowdRule(bad)  # type: ignore[arg-type]


def test_time_must_be_aware_and_monotonic() -> None:
    rule = CrowdRule(CROWD)
    rule.update([], at(10))
    with pytest.raises(ValueError, match="backwards"):
        rule.update([], at(9))
    with pytest.raises(ValueError, match="timezone-aware"):
        rule.update([], at(11).replace(tzinfo=None))
