from __future__ import annotations

from dataclasses import replace

import pytest

from models.records import CalibrationPoint
from router.crs import haversine_m
from router.geo import CalibrationError, OffGroundError, camera_homography, fit_homography
from router.grids import GridIndex
from tests.router.demo_data import CAMERA_ID, demo_cameras, demo_facts, demo_grids

CAMERA = demo_cameras()[CAMERA_ID]
DEMO_POINTS = CAMERA.calibration


def _points(*pairs: tuple[tuple[float, float], tuple[float, float]]) -> tuple[CalibrationPoint, ...]:
    return tuple(CalibrationPoint(px, lonlat) for px, lonlat in pairs)


def test_demo_calibration_reprojects_within_half_a_metre() -> None:
    homography = fit_homography(DEMO_POINTS)
    assert homography.reprojection_error_m < 0.5
    for point in DEMO_POINTS:
        assert haversine_m(homography.to_ground(point.px), point.lonlat) < 0.5


@pytest.mark.parametrize(
    ("px", "fact"),
    [((200, 400), "grid_left_half"), ((600, 400), "grid_right_half"), ((100, 560), "grid_left_half")],
)
def test_demo_pixels_land_in_the_grids_the_facts_name(px: tuple[float, float], fact: str) -> None:
    homography = camera_homography(CAMERA)
    assert homography is not None
    location = GridIndex(demo_grids()).locate(homography.to_ground(px))
    assert location.grid_code == demo_facts()[fact]


def test_more_than_four_consistent_points_fit_with_small_residual() -> None:
    homography = fit_homography(DEMO_POINTS)
    extra = [CalibrationPoint(px, homography.to_ground(px)) for px in [(384, 300), (100, 500)]]
    refit = fit_homography((*DEMO_POINTS, *extra))
    assert refit.reprojection_error_m < 0.01
    assert haversine_m(refit.to_ground((200, 400)), homography.to_ground((200, 400))) < 0.01


def test_a_pixel_above_the_horizon_is_off_the_ground() -> None:
    homography = fit_homography(DEMO_POINTS)
    # The four points make the ground recede towards the top of the frame; far above it is sky.
    with pytest.raises(OffGroundError, match="horizon"):
        homography.to_ground((384, -5000))


def test_a_camera_without_calibration_has_no_homography() -> None:
    assert camera_homography(replace(CAMERA, calibration=())) is None


A, B, C, D = DEMO_POINTS
DEMO_HOMOGRAPHY = fit_homography(DEMO_POINTS)
NEARLY_COLLINEAR = [(0.0, 300.0), (400.0, 300.5), (768.0, 300.0), (400.0, 576.0)]


@pytest.mark.parametrize(
    ("points", "message"),
    [
        (DEMO_POINTS[:3], "calibration needs at least 4 point pairs, got 3"),
        ((), "calibration needs at least 4 point pairs, got 0"),
        (
            (A, B, C, CalibrationPoint(A.px, D.lonlat)),
            "calibration[0] and calibration[3] have the same pixel",
        ),
        (
            (A, B, C, CalibrationPoint(D.px, A.lonlat)),
            "calibration[0] and calibration[3] have the same ground point",
        ),
        (
            _points(
                ((0, 0), A.lonlat), ((100, 100), B.lonlat), ((200, 200), C.lonlat), ((300, 300), D.lonlat)
            ),
            "calibration pixels all lie on one line",
        ),
        (
            _points(((0, 0), A.lonlat), ((100, 0), B.lonlat), ((200, 0), C.lonlat), ((100, 300), D.lonlat)),
            "the pixels of calibration[0], calibration[1] and calibration[2] lie on one line",
        ),
        (
            _points(
                (A.px, (118.6296, 35.7912)),
                (B.px, (118.6298, 35.7912)),
                (C.px, (118.6300, 35.7912)),
                (D.px, (118.6302, 35.7912)),
            ),
            "calibration ground points all lie on one line",
        ),
        # Swapping two ground points turns the quadrilateral into a bow-tie: no real camera sees that.
        ((A, B, CalibrationPoint(C.px, D.lonlat), CalibrationPoint(D.px, C.lonlat)), "through the horizon"),
        (
            # Three points half a pixel off a common line: one pixel of click error moves the ground 10 m.
            tuple(CalibrationPoint(px, DEMO_HOMOGRAPHY.to_ground(px)) for px in NEARLY_COLLINEAR),
            "ill-conditioned",
        ),
    ],
)
def test_bad_calibrations_are_rejected_precisely(points: tuple[CalibrationPoint, ...], message: str) -> None:
    with pytest.raises(CalibrationError) as caught:
        fit_homography(points)
    assert message in str(caught.value)
