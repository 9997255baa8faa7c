from __future__ import annotations

import pytest

from detect.zones import contains, detections_in_zone, in_zone, validate_polygon
from models.records import Zone, ZoneKind

from .helpers import SQUARE, box

# The demo camera's crowd zone: a concave polygon across the road.
ROAD = ((0, 150), (330, 140), (700, 95), (768, 120), (768, 470), (600, 420), (420, 300), (0, 240))


@pytest.mark.parametrize(
    ("polygon", "point", "inside"),
    [
        (SQUARE, (300, 250), True),
        (SQUARE, (99, 250), False),
        (SQUARE, (501, 250), False),
        (SQUARE, (300, 401), False),
        (ROAD, (200, 200), True),
        (ROAD, (700, 400), True),
        (ROAD, (500, 450), False),  # under the concave notch
        (ROAD, (200, 300), False),
        (ROAD, (750, 100), False),
    ],
)
def test_contains(polygon: tuple[tuple[float, float], ...], point: tuple[float, float], inside: bool) -> None:
    assert contains(polygon, point) is inside


def test_membership_uses_the_foot_not_the_box() -> None:
    zone = Zone("z", ZoneKind.CROWD, SQUARE)
    standing_below = box(300, 420, h=200)  # box overlaps the zone, foot is outside
    standing_inside = box(300, 390, h=300)  # head above the zone, foot inside
    assert not in_zone(zone, standing_below)
    assert in_zone(zone, standing_inside)
    assert detections_in_zone(zone, [standing_below, standing_inside]) == [standing_inside]


def test_label_filter() -> None:
    zone = Zone("z", ZoneKind.CROWD, SQUARE)
    van = box(300, 300, label="vehicle")
    person = box(200, 300)
    assert detections_in_zone(zone, [van, person], {"person"}) == [person]


def test_degenerate_polygon_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 3 points"):
        validate_polygon(((0, 0), (1, 1)))


def test_rules_and_zones_stay_free_of_cv2_and_ultralytics() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, detect.rules, detect.zones; "
        "print(sorted({'cv2', 'ultralytics', 'torch'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
