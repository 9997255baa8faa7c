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
    rule = FireRule(FIRE_ZONE, k=3, n=5, min_area_px=400, update_interval_seconds=1000)
    assert [(t, phase) for t, phase, _ in run(rule, frames(pattern, hit))] == expected, case


def test_smoke_rule_and_start_fields() -> None:
    rule = FireRule(FIRE_ZONE, kind=EventKind.SMOKE)
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
