"""LineCrossingRule: one event per forbidden crossing of a tracked object, none from jitter or untracked."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detect.rules import LineCrossingRule, Phase
from detect.zones import side_distance
from models.records import Detection, EventKind, LineDirection, Zone, ZoneKind

from .helpers import at, box, run, zone

STEP = 0.5
#: Drawn left to right across the image: "right" (of A→B) is below it, "left" above it.
SEGMENT = ((100.0, 300.0), (500.0, 300.0))


def line(direction: LineDirection = LineDirection.RIGHT_TO_LEFT, **kwargs: object) -> Zone:
    return Zone("fire-lane-entrance", ZoneKind.LINE, SEGMENT, direction=direction, **kwargs)  # type: ignore[arg-type]


def car(x: float, y: float, track: int | None = 1) -> Detection:
    return box(x, y, w=80, h=60, label="vehicle", conf=0.9, track=track)


def path(ys: Sequence[float], x: float = 300.0, track: int | None = 1) -> list[tuple[float, list[Detection]]]:
    return [(i * STEP, [car(x, y, track)]) for i, y in enumerate(ys)]


DRIVE_IN = [450, 400, 350, 310, 290, 250, 200]  # from below (right) to above (left)


def test_sides_are_named_from_a_facing_b() -> None:
    assert side_distance(SEGMENT, (300, 350)) == pytest.approx(50)  # below: right
    assert side_distance(SEGMENT, (300, 250)) == pytest.approx(-50)  # above: left
    assert side_distance(SEGMENT[::-1], (300, 350)) == pytest.approx(-50)  # drawn the other way: swapped


def test_forbidden_crossing_fires_once_as_an_instant_start() -> None:
    results = run(LineCrossingRule(line()), path(DRIVE_IN))
    [(seconds, phase, output)] = results
    assert (seconds, phase) == (4 * STEP, Phase.START)  # the first frame firmly past the line
    assert output.instant and output.started_at == output.at == at(seconds)
    assert output.kind is EventKind.LINE_CROSSING and output.zone_name == "fire-lane-entrance"
    assert [d.track_id for d in output.detections] == [1]
    assert output.confidence == pytest.approx(0.9) and output.person_count is None


@pytest.mark.parametrize(
    ("direction", "ys", "events"),
    [
        (LineDirection.RIGHT_TO_LEFT, DRIVE_IN[::-1], 0),  # leaving the lane is allowed
        (LineDirection.LEFT_TO_RIGHT, DRIVE_IN, 0),
        (LineDirection.LEFT_TO_RIGHT, DRIVE_IN[::-1], 1),
        (LineDirection.BOTH, DRIVE_IN, 1),
        (LineDirection.BOTH, DRIVE_IN[::-1], 1),
    ],
)
def test_only_the_configured_direction_counts(direction: LineDirection, ys: list[float], events: int) -> None:
    assert len(run(LineCrossingRule(line(direction)), path(ys))) == events


def test_passing_beyond_the_end_of_the_segment_is_not_a_crossing() -> None:
    assert run(LineCrossingRule(line()), path(DRIVE_IN, x=600)) == []


def test_jitter_within_the_band_never_fires() -> None:
    wobble = [400, 350, *[300 + (5 if i % 2 else -5) for i in range(40)]]
    assert run(LineCrossingRule(line(), margin_px=8), path(wobble)) == []


def test_jitter_across_the_band_fires_at_most_once_per_cooldown() -> None:
    # A car stopped across the line whose foot swings ±20 px each frame for 9.5 s (cooldown 10 s).
    swing = [400, *[300 + (20 if i % 2 else -20) for i in range(20)]]
    results = run(LineCrossingRule(line(LineDirection.BOTH, cooldown_seconds=10.0)), path(swing))
    assert len(results) == 1


def test_after_the_cooldown_the_same_track_can_cross_again() -> None:
    out_and_in = DRIVE_IN + DRIVE_IN[::-1] + [450] * 20 + DRIVE_IN
    results = run(LineCrossingRule(line(cooldown_seconds=10.0)), path(out_and_in))
    # In at frame 4, out over frames 7-13, waits 20 frames, in again at frame 7 + 7 + 20 + 4.
    assert [seconds for seconds, _, _ in results] == [4 * STEP, (7 + 7 + 20 + 4) * STEP]


def test_untracked_detections_never_fire() -> None:
    assert run(LineCrossingRule(line()), path(DRIVE_IN, track=None)) == []


def test_persons_count_only_when_configured() -> None:
    walker = [(i * STEP, [box(300, y, track=7)]) for i, y in enumerate(DRIVE_IN)]
    assert run(LineCrossingRule(line()), walker) == []
    [(_, _, output)] = run(LineCrossingRule(line(labels=("vehicle", "person"))), walker)
    assert output.person_count == 1


def test_tracks_are_independent() -> None:
    rule = LineCrossingRule(line())
    frames: list[tuple[float, list[Detection]]] = []
    for i, y in enumerate(DRIVE_IN):
        # Track 2 drives in two frames behind track 1; track 3 waits below the line all along.
        y2 = DRIVE_IN[max(0, i - 2)]
        frames.append((i * STEP, [car(200, y, 1), car(400, y2, 2), car(300, 420, 3)]))
    frames += [(len(DRIVE_IN) * STEP + i * STEP, [car(400, y, 2)]) for i, y in enumerate(DRIVE_IN[-2:])]
    results = run(rule, frames)
    assert [[d.track_id for d in o.detections] for _, _, o in results] == [[1], [2]]


def test_objects_crossing_in_the_same_frame_share_one_event() -> None:
    frames = [(i * STEP, [car(200, y, 1), car(400, y, 2)]) for i, y in enumerate(DRIVE_IN)]
    [(_, _, output)] = run(LineCrossingRule(line()), frames)
    assert sorted(d.track_id or 0 for d in output.detections) == [1, 2]


def test_a_track_unseen_for_lost_seconds_is_forgotten() -> None:
    rule = LineCrossingRule(line(), lost_seconds=10.0)
    rule.update([car(300, 400)], at(0))
    rule.update([], at(11))  # forgotten: its side below the line is no longer known
    assert rule.update([car(300, 200)], at(12)) is None
    rule2 = LineCrossingRule(line(), lost_seconds=10.0)
    rule2.update([car(300, 400)], at(0))
    rule2.update([], at(9))
    assert rule2.update([car(300, 200)], at(9.5)) is not None


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (zone(ZoneKind.OCCUPATION), "not a line zone"),
        (Zone("l", ZoneKind.LINE, ((0, 0), (10, 0), (10, 10))), "exactly 2 points"),
        (Zone("l", ZoneKind.LINE, ((5, 5), (5, 5))), "two different points"),
        (Zone("l", ZoneKind.LINE, SEGMENT, labels=()), "watches no labels"),
    ],
)
def test_invalid_zones_are_refused(bad: Zone, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LineCrossingRule(bad)


def test_time_must_be_aware_and_monotonic() -> None:
    rule = LineCrossingRule(line())
    rule.update([], at(10))
    with pytest.raises(ValueError, match="backwards"):
        rule.update([], at(9))


# ---- invariants over generated paths (hypothesis) ----------------------------------------------------

points = st.tuples(st.floats(min_value=0, max_value=640), st.floats(min_value=0, max_value=600))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.floats(min_value=0, max_value=640), st.floats(min_value=300.5, max_value=600))))
def test_a_track_that_stays_on_one_side_never_fires(feet: list[tuple[float, float]]) -> None:
    rule = LineCrossingRule(line(LineDirection.BOTH, cooldown_seconds=0.1))
    assert run(rule, [(i * STEP, [car(x, y)]) for i, (x, y) in enumerate(feet)]) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(points, max_size=80), st.sampled_from(list(LineDirection)), st.sampled_from([0.1, 3.0]))
def test_events_never_outnumber_side_changes_and_respect_the_cooldown(
    feet: list[tuple[float, float]], direction: LineDirection, cooldown: float
) -> None:
    rule = LineCrossingRule(line(direction, cooldown_seconds=cooldown), margin_px=8)
    results = run(rule, [(i * STEP, [car(x, y)]) for i, (x, y) in enumerate(feet)])
    signs = [d > 0 for d in (side_distance(SEGMENT, p) for p in feet) if d != 0]
    assert len(results) <= sum(a != b for a, b in pairwise(signs))
    times = [seconds for seconds, _, _ in results]
    assert all(later - earlier >= cooldown for earlier, later in pairwise(times))
    for _, _, output in results:
        [crosser] = output.detections
        # Every event's foot is firmly on the side its direction leads to.
        distance = side_distance(SEGMENT, crosser.foot)
        assert abs(distance) >= 8
        if direction is LineDirection.RIGHT_TO_LEFT:
            assert distance < 0
        elif direction is LineDirection.LEFT_TO_RIGHT:
            assert distance > 0
