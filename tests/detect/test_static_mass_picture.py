"""The static-mass watch on a picture its zone does not fit (a stream smaller than the camera's frame size,
as a sub-stream or a test clip is): nothing to watch, no failed camera loop on every frame."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from detect.static_mass import StaticMass
from models.records import StaticMassSettings, Zone, ZoneKind

T0 = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
LANE = ((500.0, 300.0), (760.0, 300.0), (760.0, 570.0), (500.0, 570.0))


def test_a_zone_outside_the_picture_watches_nothing_and_raises_nothing() -> None:
    zone = Zone("lane", ZoneKind.OCCUPATION, LANE, min_seconds=1, static_mass=StaticMassSettings())
    watch = StaticMass(zone)
    small = np.full((120, 160, 3), 90, np.uint8)  # the zone begins at x=500: wholly outside
    for n in range(5):
        assert watch.update(small, [], T0 + timedelta(seconds=n)) == []


def test_a_picture_that_shrinks_after_the_first_is_not_cropped_past_its_edge() -> None:
    zone = Zone("lane", ZoneKind.OCCUPATION, LANE, min_seconds=1, static_mass=StaticMassSettings())
    watch = StaticMass(zone)
    assert watch.update(np.full((576, 768, 3), 90, np.uint8), [], T0) == []
    assert watch.update(np.full((288, 384, 3), 90, np.uint8), [], T0 + timedelta(seconds=1)) == []
