"""Zone membership by an object's ground contact point; pure numpy, no cv2, so rules stay pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from models.records import Detection, Pixel, Zone

# Re-exported for the line rule: the site config refuses bent lines with the same function and words.


def validate_polygon(polygon: Sequence[Pixel]) -> None:
    if len(polygon) < 3:
        raise ValueError(f"a zone polygon needs at least 3 points, got {len(polygon)}")


def side_distance(segment: Sequence[Pixel], point: Pixel) -> float:
    """Signed pixel distance of a point from the segment's line: positive right of A→B, negative left.

    Right and left as seen on the picture (y grows downwards) by someone on A facing B, so for a segment
    drawn left to right across the image, points below it are on the right.
    """
    (ax, ay), (bx, by) = segment
    px, py = point
    dx, dy = bx - ax, by - ay
    return (dx * (py - ay) - dy * (px - ax)) / float(np.hypot(dx, dy))


def path_meets_segment(segment: Sequence[Pixel], start: Pixel, end: Pixel) -> bool:
    """Whether the straight path start→end, whose ends lie on opposite sides of the segment's line, passes
    between A and B rather than beyond either end of the segment."""
    (ax, ay), (bx, by) = segment
    (sx, sy), (ex, ey) = start, end
    dx, dy = ex - sx, ey - sy
    side_a = dx * (ay - sy) - dy * (ax - sx)
    side_b = dx * (by - sy) - dy * (bx - sx)
    return side_a * side_b <= 0


def contains(polygon: Sequence[Pixel], point: Pixel) -> bool:
    """Even-odd ray cast. Points on an edge may fall either way; a pixel's width does not matter here."""
    vertices = np.asarray(polygon, dtype=float)
    xs, ys = vertices[:, 0], vertices[:, 1]
    xs_next, ys_next = np.roll(xs, -1), np.roll(ys, -1)
    px, py = point
    straddles = (ys > py) != (ys_next > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing_x = xs + (py - ys) * (xs_next - xs) / (ys_next - ys)
    return bool(np.count_nonzero(straddles & (px < crossing_x)) % 2)


def in_zone(zone: Zone, detection: Detection) -> bool:
    """Whether the object stands in the zone: its foot, since zones are drawn on the ground."""
    return contains(zone.polygon_px, detection.foot)


def centre_in_zone(zone: Zone, detection: Detection) -> bool:
    """For fire and smoke, which have no foot: the box centre."""
    x1, y1, x2, y2 = detection.xyxy
    return contains(zone.polygon_px, ((x1 + x2) / 2.0, (y1 + y2) / 2.0))


def detections_in_zone(
    zone: Zone, detections: Iterable[Detection], labels: Iterable[str] | None = None
) -> list[Detection]:
    wanted = None if labels is None else frozenset(labels)
    return [d for d in detections if (wanted is None or d.label in wanted) and in_zone(zone, d)]
