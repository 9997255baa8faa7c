"""Ground areas of zones: the camera's calibration (pixel ↔ lon/lat pairs) fitted to a homography.

The centre has its own, validated homography (router/geo.py) for placing events; the analysis role needs
only one number per zone, its area on the ground in m², to turn a person count into a density. Both fit the
same calibration points; this one uses OpenCV's least-squares fit in a local metric frame.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from models.records import Camera, Zone

_EARTH_M = 6_371_008.8


def zone_area_m2(camera: Camera, zone: Zone) -> float | None:
    """The zone's area on the ground, or None without a usable calibration or with a vertex at or above
    the horizon (a polygon reaching into the sky has no finite ground area)."""
    points = camera.calibration
    if len(points) < 4 or len(zone.polygon_px) < 3:
        return None
    lon0 = sum(p.lonlat[0] for p in points) / len(points)
    lat0 = sum(p.lonlat[1] for p in points) / len(points)
    scale_x = math.radians(1) * _EARTH_M * math.cos(math.radians(lat0))
    scale_y = math.radians(1) * _EARTH_M
    pixels = np.array([p.px for p in points], np.float64)
    ground = np.array([((p.lonlat[0] - lon0) * scale_x, (p.lonlat[1] - lat0) * scale_y) for p in points])
    homography, _ = cv2.findHomography(pixels, ground)
    if homography is None:
        return None
    polygon = np.array(zone.polygon_px, np.float64)
    projected = np.c_[polygon, np.ones(len(polygon))] @ homography.T
    signs = np.sign(projected[:, 2])
    if not (np.all(signs > 0) or np.all(signs < 0)):
        return None
    xy = projected[:, :2] / projected[:, 2:3]
    x, y = xy[:, 0], xy[:, 1]
    area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    return area if math.isfinite(area) and area > 0 else None
