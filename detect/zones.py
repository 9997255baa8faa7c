"""Zone membership by an object's ground contact point; pure numpy, no cv2, so rules stay pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from models.records import Detection, Pixel, Zone


def validate_polygon(polygon: Sequence[Pixel]) -> None:
    if len(polygon) < 3:
        raise ValueError(f"a zone polygon needs at least 3 points, got {len(polygon)}")


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
