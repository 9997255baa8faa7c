"""Box arithmetic shared by rules and tracking."""

from __future__ import annotations

import math

from models.records import XYXY


def iou(a: XYXY, b: XYXY) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def area(box: XYXY) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def foot_distance(a: XYXY, b: XYXY) -> float:
    """Distance between bottom-centres: how far an object moved on the ground, in pixels."""
    return math.hypot((a[0] + a[2]) / 2.0 - (b[0] + b[2]) / 2.0, a[3] - b[3])
