from __future__ import annotations

from collections.abc import Callable

import pytest

from detect.rules import OccupationRule
from models.records import Detection, EventKind, ZoneKind

from .helpers import box, run, zone

STEP = 0.5
LANE = zone(ZoneKind.OCCUPATION, min_seconds=30, cooldown_seconds=10)


def parked_van(i: int, track: int | None) -> list[Detection]:
    jitter = (-2, 0, 3, 1)[i % 4]  # detector boxes wobble by a few pixels on a parked vehicle
    return [box(300 + jitter, 300 + jitter / 2, w=120, h=80, label="vehicle", track=track)]


def walker(speed_px_s: float) -> Callable[[int, int | None], list[Detection]]:
    def frame(i: int, track: int | None) -> list[Detection]:
        x = 110 + speed_px_s * i * STEP
        return [box(x, 300, track=track)] if x < 490 else []

    return frame


def stall(i: int, track: int | None) -> list[Detection]:
    return [box(200, 250, w=60, h=60, label="stall", conf=0.5, track=track)]


def van_outside(i: int, track: int | None) -> list[Detection]:
    return [box(700, 300, w=120, h=80, label="vehicle", track=track)]


def van_occluded_sometimes(i: int, track: int | None) -> list[Detection]:
    return [] if 20 <= i < 26 else parked_van(i, track)  # hidden for 3 s behind passers-by


@pytest.mark.parametrize("track", [None, 7], ids=["untracked", "tracked"])
@pytest.mark.parametrize(
    ("case", "scene", "frames", "expected"),
    [
        ("parked van starts after min_seconds", parked_van, 70, [(30.0, "start")]),
        ("stall starts too", stall, 70, [(30.0, "start")]),
        ("a van briefly hidden is still parked", van_occluded_sometimes, 70, [(30.0, "start")]),
        ("a van outside the zone never starts", van_outside, 100, []),
        ("walking through never starts", walker(70), 100, []),
        ("a slow walker never starts", walker(6), 140, []),
    ],
)
def test_occupation(
    track: int | None,
    case: str,
    scene: Callable[[int, int | None], list[Detection]],
    frames: int,
    expected: list[tuple[float, str]],
) -> None:
    rule = OccupationRule(LANE, update_interval_seconds=1000)
    outputs = run(rule, [(i * STEP, scene(i, track)) for i in range(frames)])
    assert [(t, phase) for t, phase, _ in outputs] == expected, case


def test_start_reports_the_staying_object() -> None:
    rule = OccupationRule(LANE)
    outputs = run(rule, [(i * STEP, parked_van(i, 3)) for i in range(61)])
    assert len(outputs) == 1
    _, _, start = outputs[0]
    assert start.kind is EventKind.OCCUPATION
    assert [d.label for d in start.detections] == ["vehicle"]
    assert start.person_count is None
    assert (start.at - start.started_at).total_seconds() == 30.0


def test_a_van_that_drives_off_ends_after_cooldown() -> None:
    rule = OccupationRule(LANE, update_interval_seconds=1000)
    frames = [(i * STEP, parked_van(i, 1)) for i in range(80)] + [(i * STEP, []) for i in range(80, 120)]
    # Last seen at 39.5 s, still presumed hidden for lost_seconds (5), then cooldown_seconds (10) of nothing.
    assert [(t, phase) for t, phase, _ in run(rule, frames)] == [(30.0, "start"), (55.0, "end")]


def test_a_tracked_van_that_moves_restarts_its_dwell() -> None:
    rule = OccupationRule(LANE, update_interval_seconds=1000)
    first = [(i * STEP, parked_van(i, 1)) for i in range(40)]  # 20 s at one spot
    moved = [(i * STEP, [box(420, 380, w=120, h=80, label="vehicle", track=1)]) for i in range(40, 120)]
    assert [(t, phase) for t, phase, _ in run(rule, first + moved)] == [(50.0, "start")]


def test_only_occupation_zones() -> None:
    with pytest.raises(ValueError, match="not an occupation zone"):
        OccupationRule(zone(ZoneKind.CROWD))


def test_a_person_standing_in_the_lane_is_no_occupation() -> None:
    rule = OccupationRule(LANE, update_interval_seconds=1000)
    standing = [(i * STEP, [box(300, 300, track=4)]) for i in range(200)]  # 100 s without moving
    assert run(rule, standing) == []
