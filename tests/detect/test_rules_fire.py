from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from api.site import demo_site
from detect.analysis.analyzer import CameraAnalyzer
from detect.rules import FireRule, Model
from detect.rules.fire_temporal import TemporalStage, change_of, steadied
from models.records import Detection, EventKind, ZoneKind

from .helpers import T0, box, run, zone

FIRE_ZONE = zone(ZoneKind.FIRE, cooldown_seconds=5)
FLAME = box(300, 300, w=40, h=40, label="fire", conf=0.6)
SMOKE = box(300, 300, w=80, h=80, label="smoke", conf=0.6)
TINY = box(300, 300, w=10, h=10, label="fire", conf=0.9)
OUTSIDE = box(700, 300, w=40, h=40, label="fire", conf=0.9)


def frames(pattern: str, hit: Detection = FLAME) -> list[tuple[float, list[Detection]]]:
    return [(i * 0.5, [hit] if c == "x" else []) for i, c in enumerate(pattern)]


@pytest.mark.parametrize(
    ("case", "pattern", "hit", "expected"),
    [
        ("three in a row", "xxx..", FLAME, [(1.0, "start")]),
        ("three of five, alternating", "x.x.x", FLAME, [(2.0, "start")]),
        ("too sparse", "x..x..x..x..x", FLAME, []),
        ("tiny boxes are ignored", "xxxxxx", TINY, []),
        ("outside the zone is ignored", "xxxxxx", OUTSIDE, []),
        ("smoke is not fire", "xxxxxx", SMOKE, []),
        # Votes fall below k at 2.5 s (window "xx..."), END cooldown_seconds later.
        ("ends after cooldown without votes", "xxx" + "." * 20, FLAME, [(1.0, "start"), (7.5, "end")]),
    ],
)
def test_fire_k_of_n(case: str, pattern: str, hit: Detection, expected: list[tuple[float, str]]) -> None:
    rule = FireRule(FIRE_ZONE, k=3, n=5, min_area_px=400, update_interval_seconds=1000, min_change=0.0)
    assert [(t, phase) for t, phase, _ in run(rule, frames(pattern, hit))] == expected, case


def test_smoke_rule_and_start_fields() -> None:
    rule = FireRule(FIRE_ZONE, kind=EventKind.SMOKE, min_change=0.0)
    outputs = run(rule, frames("x.xx", SMOKE))
    assert len(outputs) == 1
    _, _, start = outputs[0]
    assert start.kind is EventKind.SMOKE
    assert start.detections == (SMOKE,)
    assert start.confidence == pytest.approx(0.6)
    assert start.started_at < start.at


@pytest.mark.parametrize(("k", "n"), [(0, 5), (6, 5)])
def test_k_of_n_must_make_sense(k: int, n: int) -> None:
    with pytest.raises(ValueError, match="k <= n"):
        FireRule(FIRE_ZONE, k=k, n=n)


def flicker(i: int, label: str = "fire", conf: float = 0.6) -> Detection:
    """A flame at one place whose box changes size from look to look, by 0-50 %."""
    size = 40 + 20 * (i % 3)
    return box(300, 300, w=size, h=size, label=label, conf=conf)


def test_a_static_box_never_starts_a_fire_however_long_it_stays() -> None:
    """The demo street's false "fire" is a box that stays put, jittering by a pixel: the temporal stage
    holds it back although every check votes for it."""
    rule = FireRule(FIRE_ZONE, update_interval_seconds=1000)
    jitter = [box(300 + (i % 2), 300, w=40 + (i % 2), h=40, label="fire", conf=0.6) for i in range(200)]
    assert run(rule, [(i * 2.0, [hit]) for i, hit in enumerate(jitter)]) == []


def test_a_flickering_flame_starts_on_the_third_look() -> None:
    rule = FireRule(FIRE_ZONE, update_interval_seconds=1000)
    outputs = run(rule, [(i * 2.0, [flicker(i)]) for i in range(6)])
    assert [(t, phase) for t, phase, _ in outputs] == [(4.0, "start")]


def test_flicker_hopping_about_the_picture_is_not_one_fire() -> None:
    """Changing boxes at three places far apart: each place is seen once, nothing persists."""
    wide = zone(ZoneKind.FIRE, cooldown_seconds=5)
    places = [box(150 + 150 * (i % 3), 300, w=40 + 10 * i, h=40, label="fire") for i in range(9)]
    rule = FireRule(wide, update_interval_seconds=1000)
    assert run(rule, [(i * 2.0, [hit]) for i, hit in enumerate(places)]) == []


def test_a_spreading_plume_starts_smoke_and_a_fixed_grey_patch_does_not() -> None:
    plume = [box(300, 300, w=80 + 15 * i, h=80 + 10 * i, label="smoke", conf=0.6) for i in range(6)]
    grey = [box(300, 300, w=160, h=120, label="smoke", conf=0.9) for _ in range(60)]
    assert [p for _, p, _ in run(FireRule(FIRE_ZONE, kind=EventKind.SMOKE), frames_of(plume))] == ["start"]
    assert run(FireRule(FIRE_ZONE, kind=EventKind.SMOKE), frames_of(grey)) == []


def frames_of(hits: list[Detection]) -> list[tuple[float, list[Detection]]]:
    return [(i * 2.0, [hit]) for i, hit in enumerate(hits)]


def test_a_negative_change_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="min_change"):
        FireRule(FIRE_ZONE, min_change=-0.1)


#: The fire model's boxes (OpenVINO, as served) for the demo street's static false "fire", looks 2 s apart
#: on a phase a busy node can land on: the third is a few pixels taller than the rest.
DEMO_STREET = (768, 576)
DEMO_SPOT = [
    (0.13, (436.7, 176.5, 456.0, 200.8)),
    (0.207, (436.4, 176.3, 456.9, 201.1)),
    (0.283, (440.3, 176.0, 458.3, 206.9)),
    (0.267, (437.2, 176.3, 456.5, 201.3)),
    (0.363, (436.7, 176.0, 457.4, 201.9)),
    (0.281, (438.3, 176.1, 456.8, 201.8)),
    (0.293, (437.2, 176.6, 457.0, 201.4)),
    (0.287, (436.5, 176.4, 457.2, 201.6)),
]


def demo_spot_looks() -> list[tuple[float, list[Detection]]]:
    return [(i * 2.0, [Detection(xyxy, conf, "fire", 1)]) for i, (conf, xyxy) in enumerate(DEMO_SPOT)]


def test_one_odd_box_of_a_static_spot_is_jitter_not_flicker() -> None:
    # Without the picture's size every pixel counts, and the odd box made the spot "change" by 0.36.
    counting_every_pixel = FireRule(FIRE_ZONE, update_interval_seconds=1000)
    assert [p for _, p, _ in run(counting_every_pixel, demo_spot_looks())] == ["start"]
    steady = FireRule(FIRE_ZONE, update_interval_seconds=1000, frame_size=DEMO_STREET)
    assert run(steady, demo_spot_looks()) == []


def test_a_small_flame_still_flickers_past_the_jitter_allowance_of_a_full_hd_picture() -> None:
    rule = FireRule(FIRE_ZONE, update_interval_seconds=1000, frame_size=(1920, 1080))
    outputs = run(rule, [(i * 2.0, [flicker(i)]) for i in range(6)])
    assert [(t, phase) for t, phase, _ in outputs] == [(4.0, "start")]


def test_a_side_moved_within_the_jitter_allowance_has_not_moved() -> None:
    a = (100.0, 100.0, 140.0, 140.0)
    assert steadied(a, (101.5, 98.0, 140.0, 150.0), 2.0) == (100.0, 100.0, 140.0, 148.0)
    assert steadied(a, (90.0, 100.0, 140.0, 140.0), 2.0) == (92.0, 100.0, 140.0, 140.0)
    assert change_of([a, (101.0, 101.0, 141.0, 139.0)], 2.0) == 0.0
    with pytest.raises(ValueError, match="jitter_px"):
        TemporalStage(k=3, n=5, min_change=0.35, jitter_px=-1.0)


def test_the_service_s_rules_know_the_camera_s_picture() -> None:
    """The analyzer builds each camera's fire rules with its picture size: the demo street's spot, through
    the demo camera's own whole-view fire zone, starts nothing."""
    [street] = demo_site().cameras
    assert street.frame_size == DEMO_STREET
    analyzer = CameraAnalyzer(street, clips=False)
    blank = np.zeros((DEMO_STREET[1], DEMO_STREET[0], 3), np.uint8)
    reports = [
        report
        for seconds, found in demo_spot_looks()
        for report in analyzer.analyze(found, blank, T0 + timedelta(seconds=seconds), ran={Model.FIRE})
    ]
    assert [r for r in reports if r.event.kind in (EventKind.FIRE, EventKind.SMOKE)] == []
