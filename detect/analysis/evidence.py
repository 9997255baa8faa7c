"""Evidence images: JPEG snapshots for incidents and the annotated live view, faces pixelated by default.

Heads are approximated as the top fifth of each person box: no face model is needed and it also covers people
seen from behind or too small for a face detector, which is what the privacy rule asks for.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import cv2
import numpy as np

from detect.labels import PERSON_LIKE
from models.records import Detection, Zone, ZoneKind

logger = logging.getLogger(__name__)

HEAD_FRACTION = 0.2
JPEG_QUALITY = 85

# BGR
_ZONE_COLOURS = {
    ZoneKind.CROWD: (0, 200, 255),
    ZoneKind.OCCUPATION: (255, 120, 0),
    ZoneKind.FIRE: (0, 0, 255),
    ZoneKind.LINE: (255, 255, 0),
}
_LABEL_COLOURS = {
    "person": (0, 220, 0),
    "fall": (0, 0, 255),
    "vehicle": (255, 160, 0),
    "stall": (200, 0, 200),
    "fire": (0, 0, 255),
    "smoke": (128, 128, 128),
}


def head_box(detection: Detection, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """Integer pixel box of the head region, clipped to the image; None when nothing is left."""
    height, width = shape[:2]
    x1, y1, x2, y2 = detection.xyxy
    head_bottom = y1 + (y2 - y1) * HEAD_FRACTION
    left, top = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
    right, bottom = min(width, int(np.ceil(x2))), min(height, int(np.ceil(head_bottom)))
    if right <= left or bottom <= top:
        return None
    return left, top, right, bottom


def pixelate_heads(image: np.ndarray, detections: Iterable[Detection], block_px: int = 8) -> np.ndarray:
    """A copy of the image with each person's head region turned into coarse blocks."""
    out = image.copy()
    for detection in detections:
        if detection.label not in PERSON_LIKE:
            continue
        box = head_box(detection, out.shape)
        if box is None:
            continue
        left, top, right, bottom = box
        region = out[top:bottom, left:right]
        small = cv2.resize(
            region,
            (max(1, (right - left) // block_px), max(1, (bottom - top) // block_px)),
            interpolation=cv2.INTER_AREA,
        )
        out[top:bottom, left:right] = cv2.resize(
            small, (right - left, bottom - top), interpolation=cv2.INTER_NEAREST
        )
    return out


def draw(image: np.ndarray, detections: Sequence[Detection], zones: Sequence[Zone]) -> np.ndarray:
    """Zone outlines and labelled boxes drawn on a copy of the image."""
    out = image.copy()
    thickness = max(1, round(max(out.shape[:2]) / 400))
    for zone in zones:
        points = np.round(np.asarray(zone.polygon_px, dtype=float)).astype(np.int32).reshape(-1, 1, 2)
        colour = _ZONE_COLOURS.get(zone.kind, (255, 255, 255))
        cv2.polylines(out, [points], isClosed=True, color=colour, thickness=thickness)
        # Zone names are often Chinese, which cv2's Hershey fonts cannot render; the kind is ASCII.
        x, y = points[0, 0]
        cv2.putText(out, str(zone.kind), (int(x) + 4, int(y) + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1)
    for detection in detections:
        x1, y1, x2, y2 = (round(v) for v in detection.xyxy)
        colour = _LABEL_COLOURS.get(detection.label, (255, 255, 255))
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness)
        text = detection.label if detection.track_id is None else f"{detection.label} #{detection.track_id}"
        cv2.putText(
            out,
            f"{text} {detection.confidence:.2f}",
            (x1, max(12, y1 - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            colour,
            1,
        )
    return out


def encode_jpeg(image: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"JPEG encoding failed for an image of shape {image.shape}")
    return buffer.tobytes()


def annotate_live(
    image: np.ndarray, detections: Sequence[Detection], zones: Sequence[Zone], *, pixelate: bool = True
) -> np.ndarray:
    """The frame for the live MJPEG view: heads pixelated first, so boxes stay crisp on top."""
    base = pixelate_heads(image, detections) if pixelate else image
    return draw(base, detections, zones)


def render_snapshot(
    image: np.ndarray, detections: Sequence[Detection], zones: Sequence[Zone], *, pixelate: bool = True
) -> bytes:
    """JPEG for the incident card: boxes and zone outlines drawn."""
    return encode_jpeg(annotate_live(image, detections, zones, pixelate=pixelate))


def clean_snapshot(image: np.ndarray, detections: Sequence[Detection]) -> bytes:
    """JPEG without drawings (for re-analysis or handover), heads still pixelated."""
    return encode_jpeg(pixelate_heads(image, detections))
