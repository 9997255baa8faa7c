"""Regions of a camera where fire and smoke boxes are ignored for a while: dismissed false alarms.

The centre sends ``SuppressRegion`` when a person rejects a fire or smoke incident as a false alarm (误报).
The node keeps the regions per camera, across restarts of the camera's loop, and drops a fire or smoke box
before the rules see it when most of the box lies inside a region of its kind that has not yet expired.
A box mostly outside (a real fire beside the dismissed lamp, or one that spreads beyond it) still counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from detect.geometry import area
from models.link import SuppressRegion
from models.records import XYXY, Detection

#: Share of a box's area inside a dismissed region at which the box is ignored.
INSIDE_SHARE = 0.5


def share_inside(box: XYXY, region: XYXY) -> float:
    width = min(box[2], region[2]) - max(box[0], region[0])
    height = min(box[3], region[3]) - max(box[1], region[1])
    own = area(box)
    return max(0.0, width) * max(0.0, height) / own if own > 0 else 0.0


class Suppressions:
    """Not thread-safe: used from the node's event loop only."""

    def __init__(self) -> None:
        self._by_camera: dict[str, list[SuppressRegion]] = {}

    def add(self, command: SuppressRegion) -> None:
        self._by_camera.setdefault(command.camera_id, []).append(command)

    def active(self, camera_id: str, at: datetime) -> list[SuppressRegion]:
        live = [r for r in self._by_camera.get(camera_id, []) if r.until > at]
        if live:
            self._by_camera[camera_id] = live
        else:
            self._by_camera.pop(camera_id, None)
        return live

    def filter(self, camera_id: str, detections: Sequence[Detection], at: datetime) -> list[Detection]:
        regions = self.active(camera_id, at)
        if not regions:
            return list(detections)
        return [
            d
            for d in detections
            if not any(
                d.label in {str(k) for k in r.kinds} and share_inside(d.xyxy, r.box) >= INSIDE_SHARE
                for r in regions
            )
        ]
