from __future__ import annotations

import math

import pytest

from router.crs import (
    SUPPORTED_CRS_HELP,
    LocalProjection,
    UnknownCRSError,
    bd09_to_gcj02,
    gcj02_to_bd09,
    haversine_m,
    normalize_crs,
    to_wgs84,
    wgs84_to_gcj02,
)

# Public test vectors of eviltransform (github.com/googollee/eviltransform), as (lon, lat).
GCJ_VECTORS = [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),  # Shanghai
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),  # Shenzhen
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),  # Beijing
]
# Public vectors of coordtransform (github.com/wandergis/coordtransform), the x_pi = 3000π/180 variant.
GCJ_TO_BD = ((116.404, 39.915), (116.41036949371029, 39.92133699351021))
BD_TO_GCJ = ((116.404, 39.915), (116.39762729119315, 39.90865673957631))
QINGHE = (118.63, 35.7907687)


@pytest.mark.parametrize(("wgs", "gcj"), GCJ_VECTORS)
def test_gcj02_matches_published_vectors(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    assert wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-9)


@pytest.mark.parametrize(("wgs", "gcj"), GCJ_VECTORS)
@pytest.mark.parametrize("name", ["GCJ-02", "gcj02"])
def test_gcj02_inverse_is_within_1e7_degrees(
    wgs: tuple[float, float], gcj: tuple[float, float], name: str
) -> None:
    assert to_wgs84(*gcj, name) == pytest.approx(wgs, abs=1e-7)


def test_bd09_encrypt_matches_published_vector() -> None:
    gcj, bd = GCJ_TO_BD
    assert gcj02_to_bd09(*gcj) == pytest.approx(bd, abs=1e-12)


def test_bd09_decrypt_refines_the_published_closed_form() -> None:
    bd, gcj = BD_TO_GCJ
    # The closed-form decrypt is approximate (about 2e-6 degrees); ours inverts the encrypt exactly.
    assert bd09_to_gcj02(*bd) == pytest.approx(gcj, abs=3e-6)
    assert gcj02_to_bd09(*bd09_to_gcj02(*bd)) == pytest.approx(bd, abs=1e-9)


def test_bd09_round_trip_is_exact() -> None:
    bd = gcj02_to_bd09(*wgs84_to_gcj02(*QINGHE))
    assert to_wgs84(*bd, "BD09") == pytest.approx(QINGHE, abs=1e-7)


def test_gcj02_leaves_points_outside_china_alone() -> None:
    london = (-0.1276, 51.5072)
    assert to_wgs84(*london, "GCJ-02") == london


@pytest.mark.parametrize(
    ("x", "y", "crs", "expected"),
    [
        (118.63, 35.79, "EPSG:4326", (118.63, 35.79)),
        (118.63, 35.79, "wgs84", (118.63, 35.79)),
        (118.63, 35.79, "EPSG:4490", (118.63, 35.79)),
        (118.63, 35.79, "CGCS2000", (118.63, 35.79)),
        # UTM 50N and CGCS2000 3-degree Gauss-Krüger (CM 114°E): false easting = the central meridian.
        (500000.0, 0.0, "EPSG:32650", (117.0, 0.0)),
        (500000.0, 0.0, "epsg:4547", (114.0, 0.0)),
    ],
)
def test_pyproj_systems(x: float, y: float, crs: str, expected: tuple[float, float]) -> None:
    assert to_wgs84(x, y, crs) == pytest.approx(expected, abs=1e-7)


@pytest.mark.parametrize("name", ["GCJ", "EPSG:999999", "EPSG:abc", "Baidu", ""])
def test_unknown_crs_is_rejected_with_the_supported_list(name: str) -> None:
    with pytest.raises(UnknownCRSError) as caught:
        to_wgs84(118.0, 35.0, name)
    assert SUPPORTED_CRS_HELP in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        (" wgs84 ", "EPSG:4326"),
        ("urn:ogc:def:crs:OGC:1.3:CRS84", "EPSG:4326"),
        ("urn:ogc:def:crs:EPSG::4490", "EPSG:4490"),
        ("cgcs2000", "EPSG:4490"),
        ("epsg:4547", "EPSG:4547"),
        ("gcj02", "GCJ-02"),
        ("bd-09", "BD-09"),
    ],
)
def test_normalize_crs(name: str, canonical: str) -> None:
    assert normalize_crs(name) == canonical


@pytest.mark.parametrize(
    ("a", "b", "metres"),
    [
        # One degree of latitude on the mean sphere, and one arc-second of longitude at 35.79°N.
        ((118.63, 35.0), (118.63, 36.0), 6_371_008.8 * math.pi / 180),
        (
            (118.63, 35.79),
            (118.63 + 1 / 3600, 35.79),
            6_371_008.8 * math.radians(1 / 3600) * math.cos(math.radians(35.79)),
        ),
        (QINGHE, QINGHE, 0.0),
    ],
)
def test_haversine(a: tuple[float, float], b: tuple[float, float], metres: float) -> None:
    assert haversine_m(a, b) == pytest.approx(metres, abs=0.01)


@pytest.mark.parametrize("offset_m", [(0.0, 0.0), (100.0, 0.0), (0.0, -250.0), (1500.0, 1500.0)])
def test_local_projection_round_trips_and_agrees_with_haversine(offset_m: tuple[float, float]) -> None:
    frame = LocalProjection(QINGHE)
    lonlat = frame.to_lonlat(offset_m)
    assert frame.to_xy(lonlat) == pytest.approx(offset_m, abs=1e-6)
    # Within 0.5 % (the sphere's own error against the ellipsoid) of the great-circle distance.
    assert haversine_m(QINGHE, lonlat) == pytest.approx(math.hypot(*offset_m), rel=5e-3, abs=1e-6)
