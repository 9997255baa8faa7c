"""Crowd thresholds by time of day (``Zone.crowd_windows``): the rule reads them at each frame's instant."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from detect.analysis.analyzer import CameraAnalyzer
from detect.rules import CrowdRule
from models.records import CrowdWindow, ZoneKind

from .helpers import persons_inside, zone
from .test_crowd_density import street

MARKET = CrowdWindow("05:00-09:00", "Asia/Shanghai", min_persons=8, min_seconds=20)


def local(hour: int, minute: int = 0) -> datetime:
    """That wall-clock time on 2026-11-23 in Asia/Shanghai (UTC+8), as an aware UTC instant."""
    return datetime(2026, 11, 23, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def starts(rule: CrowdRule, begin: datetime, count: int, seconds: float = 30) -> list[float]:
    """Seconds after ``begin`` at which the rule started, fed ``count`` persons at 2 fps."""
    found = []
    for i in range(int(seconds * 2)):
        out = rule.update(persons_inside(count), begin + timedelta(seconds=i * 0.5))
        if out is not None and str(out.phase) == "start":
            found.append(i * 0.5)
    return found


def crowd_zone(*windows: CrowdWindow, **own: float) -> CrowdRule:
    return CrowdRule(
        dataclasses.replace(zone(ZoneKind.CROWD, min_persons=5, min_seconds=5, **own), crowd_windows=windows)
    )


@pytest.mark.parametrize(
    ("hour", "count", "started"),
    [
        (7, 6, []),  # the morning market: 6 people are shoppers
        (7, 9, [20.0]),  # 9 are a crowd, after the window's 20 s
        (14, 6, [5.0]),  # outside the window the zone's own 5 persons for 5 s
        (9, 6, [5.0]),  # the window ends at 09:00 (end excluded)
        (4, 6, [5.0]),
    ],
)
def test_the_window_holding_the_local_time_sets_the_thresholds(
    hour: int, count: int, started: list[float]
) -> None:
    assert starts(crowd_zone(MARKET), local(hour), count) == started


def test_a_window_may_wrap_past_midnight_and_the_first_holding_one_wins() -> None:
    night = CrowdWindow("22:00-02:00", "Asia/Shanghai", min_persons=3)
    late = CrowdWindow("23:00-23:30", "Asia/Shanghai", min_persons=50)
    rule = crowd_zone(night, late)
    assert starts(rule, local(23, 10), 4) == [5.0]  # night (listed first) wins over late
    assert starts(crowd_zone(night), local(1, 30), 4) == [5.0]
    assert starts(crowd_zone(night), local(12), 4) == []  # the zone's own 5 persons


def test_a_window_sets_only_what_it_names() -> None:
    longer = CrowdWindow("00:00-23:59", "Asia/Shanghai", min_seconds=12)
    assert starts(crowd_zone(longer), local(14), 5) == [12.0]  # count: the zone's 5


def test_a_crowd_pending_when_the_window_opens_is_judged_by_the_window() -> None:
    rule = crowd_zone(MARKET)
    # 6 people from 04:59:57: at 05:00 the window's 8 persons apply, before the zone's 5 s are up.
    assert starts(rule, local(4, 59) + timedelta(seconds=57), 6) == []


def test_a_window_with_density_gives_the_rule_the_zones_area() -> None:
    dense = CrowdWindow("05:00-09:00", "Asia/Shanghai", min_density_per_m2=0.5)
    camera = street(crowd_windows=(dense,))
    [crowd] = [r for r in CameraAnalyzer(camera, clips=False)._rules if isinstance(r, CrowdRule)]
    assert crowd.area_m2 is not None and crowd.area_m2 > 100
    # Hundreds of m² need hundreds of people at 0.5 per m² in the window; the zone's count alone outside.
    assert crowd.thresholds.at(local(7)) == (5, 0.5, 5.0)
    assert crowd.thresholds.at(local(14)) == (5, None, 5.0)


def test_a_window_refuses_min_persons_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        crowd_zone(CrowdWindow("05:00-09:00", min_persons=0))
