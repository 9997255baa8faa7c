from __future__ import annotations

import pytest

from detect.rules import FireRule
from models.records import Detection, EventKind, ZoneKind

from .helpers import box, run, zone

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
