"""Crowd thresholds per grid kind: the centre finds each crowd zone's grid and attaches its kind's windows."""

from __future__ import annotations

from dataclasses import replace

import pytest

from api.site import demo_site
from models.config import PoliciesSection, load_site_config
from models.records import Camera, CrowdWindow, Grid, GridKind, Mount, ZoneKind
from router.crowd_thresholds import grid_kind_keys, unknown_kinds, with_crowd_windows
from router.geo import camera_homography
from router.grids import GridIndex
from router.policies import build_policies
from tests.models.config.site_file import EXAMPLE
from tests.router.demo_data import demo_grids

MARKET_GRID = "379901001002004"
#: Inside the demo's market grid (西关农贸市场专属网格).
IN_THE_MARKET = (118.6266, 35.7927)


def in_the_market(camera: Camera) -> Camera:
    """The demo camera looking at the same picture, moved (mount and calibration) into the market grid."""
    dlon, dlat = IN_THE_MARKET[0] - 118.63004, IN_THE_MARKET[1] - 35.79108  # the road zone's centre now

    def moved(lonlat: tuple[float, float]) -> tuple[float, float]:
        return (lonlat[0] + dlon, lonlat[1] + dlat)

    return replace(
        camera,
        mount=replace(camera.mount, lonlat=moved(camera.mount.lonlat)),
        calibration=tuple(replace(p, lonlat=moved(p.lonlat)) for p in camera.calibration),
    )


def _policies(data: dict[str, object]) -> dict[str, tuple[CrowdWindow, ...]]:
    return dict(build_policies(PoliciesSection.model_validate(data)).crowd_thresholds)


THRESHOLDS = _policies(
    {
        "crowd_thresholds": {
            "market": [{"hours": "05:00-09:00", "min_persons": 60, "min_seconds": 120}],
            "exclusive": [{"hours": "07:00-08:00", "min_persons": 30}],
            "basic": [{"hours": "22:00-06:00", "min_persons": 3}],
        }
    }
)


def _road(camera: Camera) -> tuple[CrowdWindow, ...]:
    [road] = [z for z in camera.zones if z.kind is ZoneKind.CROWD]
    return road.crowd_windows


def _attach(camera: Camera, grids: tuple[Grid, ...], timezone: str = "Asia/Shanghai") -> Camera:
    return with_crowd_windows(
        camera, camera_homography(camera), GridIndex(grids), THRESHOLDS, timezone=timezone
    )


def test_the_site_file_rows_become_windows_in_order() -> None:
    assert THRESHOLDS["market"] == (CrowdWindow("05:00-09:00", min_persons=60, min_seconds=120),)
    assert build_policies(load_site_config(EXAMPLE).policies).crowd_thresholds["market"][0].min_persons == 60
    assert dict(build_policies(PoliciesSection()).crowd_thresholds) == {}


def test_a_zone_through_the_homography_gets_its_grids_windows_in_the_site_time_zone() -> None:
    camera = demo_site().cameras[0]
    # The demo road straddles two basic grids; its centre decides (here 东关二网格).
    assert _road(_attach(camera, demo_grids(), "Asia/Urumqi")) == (
        CrowdWindow("22:00-06:00", "Asia/Urumqi", min_persons=3),
    )
    # The same picture seen in the market grid: the market's row, not the generic exclusive one.
    market = _attach(in_the_market(camera), demo_grids())
    assert _road(market) == THRESHOLDS["market"]
    # Other zones are left alone.
    others = [z for z in camera.zones if z.kind is not ZoneKind.CROWD]
    assert [z for z in market.zones if z.kind is not ZoneKind.CROWD] == others


def test_without_a_calibration_the_mount_decides() -> None:
    camera = replace(demo_site().cameras[0], calibration=(), mount=Mount(IN_THE_MARKET))
    assert _road(_attach(camera, demo_grids())) == THRESHOLDS["market"]


@pytest.mark.parametrize(
    ("kind", "exclusive_type", "keys"),
    [
        (GridKind.BASIC, None, ("basic",)),
        (GridKind.EXCLUSIVE, "market", ("market", "exclusive")),
        (GridKind.EXCLUSIVE, None, ("exclusive",)),
    ],
)
def test_the_most_specific_name_wins(
    kind: GridKind, exclusive_type: str | None, keys: tuple[str, ...]
) -> None:
    grid = replace(demo_grids()[0], kind=kind, exclusive_type=exclusive_type)
    assert grid_kind_keys(grid) == keys
    assert grid_kind_keys(None) == ()


def test_a_school_without_its_own_row_takes_the_exclusive_one_and_no_rows_change_nothing() -> None:
    camera = replace(demo_site().cameras[0], calibration=(), mount=Mount(IN_THE_MARKET))
    school = tuple(replace(g, exclusive_type="school") if g.code == MARKET_GRID else g for g in demo_grids())
    assert _road(_attach(camera, school)) == THRESHOLDS["exclusive"]
    index = GridIndex(demo_grids())
    assert with_crowd_windows(camera, None, index, {}, timezone="Asia/Shanghai") is camera


def test_a_name_no_grid_answers_to_is_reported() -> None:
    """The demo county has basic grids and one market: 'school' and a misspelt 'markt' apply nowhere."""
    names = {"basic": (), "exclusive": (), "market": (), "school": (), "markt": ()}
    assert unknown_kinds(names, GridIndex(demo_grids())) == ["markt", "school"]
