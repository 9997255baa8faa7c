"""Crowd density: persons per m² of the zone's ground area (from the calibration) as well as count."""

from __future__ import annotations

import dataclasses

import pytest

from api.site import demo_site
from detect.analysis.analyzer import CameraAnalyzer
from detect.ground import zone_area_m2
from detect.rules import CrowdRule
from models.records import Camera, Zone, ZoneKind
from models.store import Store

from .helpers import persons_inside, run, zone


def street(**road: object) -> Camera:
    camera = demo_site().cameras[0]
    zones = tuple(dataclasses.replace(z, **road) if z.name == "road" else z for z in camera.zones)  # type: ignore[arg-type]
    return dataclasses.replace(camera, zones=zones)


def test_the_demo_roads_ground_area_comes_from_its_calibration() -> None:
    camera = street()
    [road] = [z for z in camera.zones if z.name == "road"]
    area = zone_area_m2(camera, road)
    # The calibration spans about 60 m across and 38 m deep; the road polygon is a good part of it.
    assert area is not None and 500 < area < 2_300
    assert zone_area_m2(dataclasses.replace(camera, calibration=()), road) is None


def frames(count: int, seconds: int = 8) -> list[tuple[float, list]]:  # type: ignore[type-arg]
    return [(i * 0.5, persons_inside(count)) for i in range(seconds * 2)]


@pytest.mark.parametrize(
    ("count", "area_m2", "starts"),
    [
        (6, 100.0, False),  # 0.06 per m²: a busy square, not a gathering
        (6, 4.0, True),  # 1.5 per m²
        (4, 2.0, False),  # dense, but fewer than min_persons
        (6, None, True),  # no calibration: the count alone decides
    ],
)
def test_density_and_count_must_both_hold(count: int, area_m2: float | None, starts: bool) -> None:
    dense = zone(ZoneKind.CROWD, min_persons=5, min_seconds=2, min_density_per_m2=1.0)
    rule = CrowdRule(dense, area_m2=area_m2)
    assert bool([p for _, p, _ in run(rule, frames(count)) if p == "start"]) is starts


def test_the_analyzer_gives_the_crowd_rule_its_zones_area() -> None:
    analyzer = CameraAnalyzer(street(min_density_per_m2=0.5), clips=False)
    [crowd] = [r for r in analyzer._rules if isinstance(r, CrowdRule)]
    assert crowd.area_m2 == pytest.approx(zone_area_m2(analyzer.camera, crowd.zone))
    plain = CameraAnalyzer(street(), clips=False)
    [count_only] = [r for r in plain._rules if isinstance(r, CrowdRule)]
    assert count_only.area_m2 is None


def test_a_non_positive_area_is_refused() -> None:
    with pytest.raises(ValueError, match="area_m2"):
        CrowdRule(zone(ZoneKind.CROWD), area_m2=0.0)


def test_the_threshold_travels_from_site_yaml_to_the_stored_form() -> None:
    from models.config.zones import CrowdZone, to_zone
    from models.store.base import zones_json

    config = CrowdZone.model_validate(
        {
            "kind": "crowd",
            "name": "square",
            "polygon_px": [[0, 0], [10, 0], [10, 10]],
            "min_density_per_m2": 1.5,
        }
    )
    record: Zone = to_zone(config)
    assert record.min_density_per_m2 == 1.5
    assert zones_json([record])[0]["min_density_per_m2"] == 1.5


async def test_the_threshold_survives_the_store(store: Store) -> None:
    camera = street(min_density_per_m2=1.25)
    await store.cameras.upsert([camera])
    stored = await store.cameras.get(camera.id)
    assert stored is not None
    [road] = [z for z in stored.zones if z.name == "road"]
    assert road.min_density_per_m2 == 1.25
