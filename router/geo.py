"""Image pixels → ground lon/lat through a ground-plane homography fitted from calibration points.

The homography maps pixels to metres in a LocalProjection around the calibration points rather than
to degrees, so the fit is conditioned in a metric frame and its residuals read in metres.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.records import CalibrationPoint, Camera, LonLat, Pixel
from router.crs import LocalProjection

Row3 = tuple[float, float, float]
Matrix3 = tuple[Row3, Row3, Row3]
FloatArray = npt.NDArray[np.float64]

MIN_POINTS = 4
# Two clicks closer than this are the same point clicked twice, not extra information.
DUPLICATE_PIXEL_PX = 1.0
DUPLICATE_GROUND_M = 0.1
# Triangle area / (longest side)², or the thin/long spread of all points, below this counts as a line.
COLLINEAR_RATIO = 1e-4
# Ratio of the largest to the second-smallest singular value of the normalised DLT system. It tracks how
# far one pixel of click error moves the ground: the demo's four corners give 3.6; three of four points
# 0.5 px off a common line give about 2000, where one pixel of error moves the ground by over 10 m.
MAX_CONDITION = 1000.0
# |w| of a pixel relative to the calibration points' smallest |w|; below it the pixel is at the horizon.
HORIZON_EPS = 1e-6


class CalibrationError(ValueError):
    """Calibration points that cannot define a ground-plane homography; the message says which and why."""


class OffGroundError(ValueError):
    """A pixel at or above the horizon: it images the sky, not the ground plane."""


@dataclass(frozen=True, slots=True)
class Homography:
    """A 3×3 matrix from image pixels to metres east/north of `origin`, scaled so that w > 0 on the ground."""

    matrix: Matrix3
    origin: LonLat
    #: RMS distance between the calibration ground points and their reprojected pixels, in metres.
    reprojection_error_m: float
    #: The smallest w over the calibration pixels: the scale against which the horizon is judged.
    min_w: float

    @property
    def projection(self) -> LocalProjection:
        return LocalProjection(self.origin)

    def to_ground_xy(self, px: Pixel) -> tuple[float, float]:
        (a, b, c), (d, e, f), (g, h, i) = self.matrix
        w = g * px[0] + h * px[1] + i
        if not w > HORIZON_EPS * self.min_w:
            raise OffGroundError(f"pixel ({px[0]:g}, {px[1]:g}) is at or above the horizon")
        return ((a * px[0] + b * px[1] + c) / w, (d * px[0] + e * px[1] + f) / w)

    def to_ground(self, px: Pixel) -> LonLat:
        return self.projection.to_lonlat(self.to_ground_xy(px))


def camera_homography(camera: Camera) -> Homography | None:
    """The camera's homography, or None when it has no calibration; raises CalibrationError when bad."""
    if not camera.calibration:
        return None
    return fit_homography(camera.calibration)


def fit_homography(points: Sequence[CalibrationPoint]) -> Homography:
    """Fit by the normalised direct linear transform (Hartley & Zisserman, algorithm 4.2)."""
    if len(points) < MIN_POINTS:
        raise CalibrationError(f"calibration needs at least {MIN_POINTS} point pairs, got {len(points)}")
    origin = _centroid([p.lonlat for p in points])
    projection = LocalProjection(origin)
    pixels = np.array([p.px for p in points], dtype=np.float64)
    ground = np.array([projection.to_xy(p.lonlat) for p in points], dtype=np.float64)
    if not (np.isfinite(pixels).all() and np.isfinite(ground).all()):
        raise CalibrationError("calibration points must be finite numbers")
    _check_distinct(pixels, "pixel", DUPLICATE_PIXEL_PX)
    _check_distinct(ground, "ground point", DUPLICATE_GROUND_M)
    _check_spread(pixels, "pixels")
    _check_spread(ground, "ground points")
    matrix = _dlt(pixels, ground)
    ws = matrix[2] @ np.vstack([pixels.T, np.ones(len(points))])
    if (ws > 0).any() and (ws < 0).any():
        majority_positive = int((ws > 0).sum()) >= int((ws < 0).sum())
        odd = np.flatnonzero((ws > 0) != majority_positive)
        behind = ", ".join(f"calibration[{i}]" for i in odd)
        raise CalibrationError(
            f"{behind} would map through the horizon; pixel and ground orders disagree "
            "(are two points swapped?)"
        )
    if ws[0] < 0:
        matrix = -matrix
        ws = -ws
    min_w = float(ws.min())
    if not min_w > 0.0:
        raise CalibrationError(f"calibration[{int(ws.argmin())}] maps to infinity (it lies on the horizon)")
    mapped = (matrix[:2] @ np.vstack([pixels.T, np.ones(len(points))])) / ws
    rms = float(np.sqrt(np.mean(np.sum((mapped.T - ground) ** 2, axis=1))))
    rows = tuple(tuple(float(v) for v in row) for row in matrix)
    return Homography(
        matrix=(_row(rows[0]), _row(rows[1]), _row(rows[2])),
        origin=origin,
        reprojection_error_m=rms,
        min_w=min_w,
    )


def _row(values: tuple[float, ...]) -> Row3:
    return (values[0], values[1], values[2])


def _centroid(lonlats: Sequence[LonLat]) -> LonLat:
    return (
        math.fsum(p[0] for p in lonlats) / len(lonlats),
        math.fsum(p[1] for p in lonlats) / len(lonlats),
    )


def _check_distinct(xy: FloatArray, what: str, tolerance: float) -> None:
    for i, j in itertools.combinations(range(len(xy)), 2):
        if float(np.hypot(*(xy[i] - xy[j]))) < tolerance:
            raise CalibrationError(f"calibration[{i}] and calibration[{j}] have the same {what}")


def _check_spread(xy: FloatArray, what: str) -> None:
    centred = xy - xy.mean(axis=0)
    spread = np.linalg.svd(centred, compute_uv=False)
    if spread[1] < COLLINEAR_RATIO * spread[0]:
        raise CalibrationError(f"calibration {what} all lie on one line")
    # With exactly four pairs the homography is pinned by all four; three on a line leave it free.
    if len(xy) == MIN_POINTS:
        for i, j, k in itertools.combinations(range(MIN_POINTS), 3):
            if _collinear(xy[[i, j, k]]):
                raise CalibrationError(
                    f"the {what} of calibration[{i}], calibration[{j}] and calibration[{k}] lie on one line; "
                    "with exactly 4 pairs no 3 may be collinear"
                )


def _collinear(triangle: FloatArray) -> bool:
    ab, ac, bc = triangle[1] - triangle[0], triangle[2] - triangle[0], triangle[2] - triangle[1]
    doubled_area = abs(float(ab[0] * ac[1] - ab[1] * ac[0]))
    longest = max(float(ab @ ab), float(ac @ ac), float(bc @ bc))
    return doubled_area / 2.0 < COLLINEAR_RATIO * longest


def _normaliser(xy: FloatArray) -> FloatArray:
    """Similarity moving the centroid to 0 and the mean distance to √2 (Hartley normalisation)."""
    centre = xy.mean(axis=0)
    mean_distance = float(np.mean(np.hypot(*(xy - centre).T)))
    s = math.sqrt(2.0) / mean_distance
    return np.array([[s, 0.0, -s * centre[0]], [0.0, s, -s * centre[1]], [0.0, 0.0, 1.0]])


def _dlt(src: FloatArray, dst: FloatArray) -> FloatArray:
    t_src, t_dst = _normaliser(src), _normaliser(dst)
    ones = np.ones((len(src), 1))
    s = (t_src @ np.hstack([src, ones]).T).T
    d = (t_dst @ np.hstack([dst, ones]).T).T
    rows: list[list[float]] = []
    for (x, y, _), (u, v, _) in zip(s, d, strict=True):
        rows.append([-x, -y, -1.0, 0.0, 0.0, 0.0, u * x, u * y, u])
        rows.append([0.0, 0.0, 0.0, -x, -y, -1.0, v * x, v * y, v])
    _, singular, vt = np.linalg.svd(np.array(rows), full_matrices=True)
    # The solution is the last right singular vector; the one before it must be clearly non-null.
    second_smallest = float(singular[7])
    condition = float(singular[0]) / second_smallest if second_smallest > 0 else math.inf
    if condition > MAX_CONDITION:
        raise CalibrationError(
            f"calibration is ill-conditioned (condition number {condition:.3g} > {MAX_CONDITION:g}); "
            "spread the points over the ground visible in the image"
        )
    normalised = vt[-1].reshape(3, 3)
    matrix: FloatArray = np.linalg.inv(t_dst) @ normalised @ t_src
    scaled: FloatArray = matrix / np.abs(matrix).max()
    return scaled
