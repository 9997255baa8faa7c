"""Coordinate reference systems: everything is turned into WGS84 lon/lat at the edge, once.

Chinese layers arrive in four flavours: WGS84, CGCS2000 (EPSG:4490, within centimetres of WGS84),
GCJ-02 (the obfuscated datum every AMap/Tencent map uses) and BD-09 (Baidu's further offset on top of
GCJ-02). pyproj knows the first two and any projected EPSG system; the last two are published
formulas, implemented here because no EPSG code describes them.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from functools import lru_cache

from pyproj import Transformer
from pyproj.exceptions import CRSError

from models.records import LonLat

SUPPORTED_CRS_HELP = (
    "supported CRS names: EPSG:4326 (or WGS84), EPSG:4490 (or CGCS2000), GCJ-02 (AMap, Tencent), "
    "BD-09 (Baidu), or any other EPSG:<code> that pyproj knows (projected systems take easting, northing)"
)

# GeoJSON files written by GDAL name plain lon/lat as OGC CRS84, sometimes as a URN.
_WGS84_NAMES = frozenset(
    {"EPSG:4326", "WGS84", "WGS-84", "WGS 84", "CRS84", "OGC:CRS84", "URN:OGC:DEF:CRS:OGC:1.3:CRS84"}
)
_CGCS2000_NAMES = frozenset({"EPSG:4490", "CGCS2000", "CGCS-2000"})
_GCJ02_NAMES = frozenset({"GCJ-02", "GCJ02"})
_BD09_NAMES = frozenset({"BD-09", "BD09"})
_EPSG_PATTERN = re.compile(r"(?:URN:OGC:DEF:CRS:)?EPSG::?(\d{4,6})")

# Krasovsky 1940 ellipsoid: the published GCJ-02 formulas are defined on it, not on WGS84.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
_BD_X_PI = math.pi * 3000.0 / 180.0
# GCJ-02 inversion stops when the forward image is this close to the input (degrees, about 1 cm).
_GCJ_TOLERANCE_DEG = 1e-7
_GCJ_MAX_ITERATIONS = 50
_BD_TOLERANCE_DEG = 1e-10

# IUGG mean Earth radius: the haversine error against the ellipsoid stays under 0.5 %.
_MEAN_EARTH_RADIUS_M = 6_371_008.8
# WGS84 ellipsoid, for the local frame's radii of curvature.
_WGS84_A = 6_378_137.0
_WGS84_E2 = 0.00669437999014


class UnknownCRSError(ValueError):
    """A CRS name that is neither one of the Chinese datums nor an EPSG code pyproj knows."""


def normalize_crs(crs: str) -> str:
    """The canonical spelling of a supported CRS name; raises UnknownCRSError for anything else.

    Importers call this before reading a file so that a typo fails before any feature is parsed.
    """
    name = crs.strip().upper()
    if name in _GCJ02_NAMES:
        return "GCJ-02"
    if name in _BD09_NAMES:
        return "BD-09"
    epsg = _EPSG_PATTERN.fullmatch(name)
    if name in _WGS84_NAMES or (epsg is not None and epsg.group(1) == "4326"):
        return "EPSG:4326"
    if name in _CGCS2000_NAMES:
        return "EPSG:4490"
    if epsg is None:
        raise UnknownCRSError(f"unknown CRS {crs!r}; {SUPPORTED_CRS_HELP}")
    canonical = f"EPSG:{epsg.group(1)}"
    _transformer(canonical)
    return canonical


def to_wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """Convert one coordinate pair in `crs` to WGS84 (lon, lat).

    For projected EPSG systems `lon`/`lat` are easting/northing in that system's units.
    """
    name = normalize_crs(crs)
    if name == "EPSG:4326":
        return (lon, lat)
    if name == "GCJ-02":
        return gcj02_to_wgs84(lon, lat)
    if name == "BD-09":
        return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))
    out_lon, out_lat = _transformer(name).transform(lon, lat)
    if not (math.isfinite(out_lon) and math.isfinite(out_lat)):
        raise ValueError(f"({lon}, {lat}) lies outside the area where {name} is defined")
    return (float(out_lon), float(out_lat))


@lru_cache(maxsize=64)
def _transformer(epsg: str) -> Transformer:
    try:
        return Transformer.from_crs(epsg, "EPSG:4326", always_xy=True)
    except CRSError as error:
        raise UnknownCRSError(f"pyproj does not know {epsg}; {SUPPORTED_CRS_HELP}") from error


def out_of_china(lon: float, lat: float) -> bool:
    """GCJ-02 leaves points outside this box unshifted, by definition of the published formula."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    if out_of_china(lon, lat):
        return (lon, lat)
    d_lon, d_lat = _gcj_offset(lon, lat)
    return (lon + d_lon, lat + d_lat)


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """Invert the GCJ-02 shift by fixed-point iteration; the shift varies slowly, so this converges fast."""
    if out_of_china(lon, lat):
        return (lon, lat)
    w_lon, w_lat = lon, lat
    for _ in range(_GCJ_MAX_ITERATIONS):
        g_lon, g_lat = wgs84_to_gcj02(w_lon, w_lat)
        e_lon, e_lat = g_lon - lon, g_lat - lat
        if abs(e_lon) < _GCJ_TOLERANCE_DEG and abs(e_lat) < _GCJ_TOLERANCE_DEG:
            break
        w_lon, w_lat = w_lon - e_lon, w_lat - e_lat
    return (w_lon, w_lat)


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * _BD_X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _BD_X_PI)
    return (z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006)


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """Invert gcj02_to_bd09 exactly; the widely copied closed-form decrypt is off by up to ~0.2 m."""
    x, y = lon - 0.0065, lat - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * _BD_X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _BD_X_PI)
    g_lon, g_lat = z * math.cos(theta), z * math.sin(theta)
    for _ in range(_GCJ_MAX_ITERATIONS):
        b_lon, b_lat = gcj02_to_bd09(g_lon, g_lat)
        e_lon, e_lat = b_lon - lon, b_lat - lat
        if abs(e_lon) < _BD_TOLERANCE_DEG and abs(e_lat) < _BD_TOLERANCE_DEG:
            break
        g_lon, g_lat = g_lon - e_lon, g_lat - e_lat
    return (g_lon, g_lat)


def _gcj_offset(lon: float, lat: float) -> tuple[float, float]:
    x, y = lon - 105.0, lat - 35.0
    d_lat = _gcj_lat_term(x, y)
    d_lon = _gcj_lon_term(x, y)
    rad_lat = math.radians(lat)
    magic = 1.0 - _GCJ_EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = d_lat * 180.0 / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = d_lon * 180.0 / (_GCJ_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return (d_lon, d_lat)


def _gcj_lat_term(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _gcj_lon_term(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def haversine_m(a: LonLat, b: LonLat) -> float:
    """Great-circle distance in metres on the mean-radius sphere."""
    lon1, lat1 = math.radians(a[0]), math.radians(a[1])
    lon2, lat2 = math.radians(b[0]), math.radians(b[1])
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2.0 * _MEAN_EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class LocalProjection:
    """An equirectangular east/north frame in metres around `origin`.

    Uses the WGS84 radii of curvature at the origin, so scale is exact there; within 2 km of the
    origin the error stays below about 0.02 % (20 cm over 1 km), which is far below the error of a
    hand-clicked calibration. It is linear, so homographies and polygons keep their shape in it.
    """

    origin: LonLat

    def metres_per_degree(self) -> tuple[float, float]:
        """(east, north) metres per degree of longitude and latitude at the origin."""
        return _metres_per_degree(self.origin[1])

    def to_xy(self, lonlat: LonLat) -> tuple[float, float]:
        east, north = self.metres_per_degree()
        return ((lonlat[0] - self.origin[0]) * east, (lonlat[1] - self.origin[1]) * north)

    def to_lonlat(self, xy: tuple[float, float]) -> LonLat:
        east, north = self.metres_per_degree()
        return (self.origin[0] + xy[0] / east, self.origin[1] + xy[1] / north)


@functools.lru_cache(maxsize=4096)
def _metres_per_degree(latitude: float) -> tuple[float, float]:
    # Cached: every ground point of every event projects through a camera's few origins.
    lat = math.radians(latitude)
    w = math.sqrt(1.0 - _WGS84_E2 * math.sin(lat) ** 2)
    prime_vertical = _WGS84_A / w
    meridional = _WGS84_A * (1.0 - _WGS84_E2) / w**3
    return (math.radians(1.0) * prime_vertical * math.cos(lat), math.radians(1.0) * meridional)
