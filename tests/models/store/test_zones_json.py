"""Zones as stored in the cameras table (jsonb): line settings survive, older rows read as before."""

from __future__ import annotations

from typing import Any

from models.records import Camera, LineDirection, Mount, Zone, ZoneKind
from models.store import _camera_from_row, calibration_json, mount_json, zones_json

ZONES = (
    Zone("road", ZoneKind.CROWD, ((0, 0), (100, 0), (100, 100)), min_persons=3),
    Zone(
        "entrance",
        ZoneKind.LINE,
        ((10, 50), (90, 50)),
        cooldown_seconds=20,
        direction=LineDirection.LEFT_TO_RIGHT,
        labels=("vehicle", "person"),
    ),
)
CAMERA = Camera("cam-1", "test", "test.avi", (640, 480), Mount((118.63, 35.79)), zones=ZONES)


def _row(zones: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": CAMERA.id,
        "name": CAMERA.name,
        "source": CAMERA.source,
        "frame_w": 640,
        "frame_h": 480,
        "mount": mount_json(CAMERA.mount),
        "calibration": calibration_json(CAMERA.calibration),
        "zones": zones,
        "analysis_fps": CAMERA.analysis_fps,
        "enabled": True,
    }


def test_line_zones_round_trip() -> None:
    stored = zones_json(ZONES)
    assert stored[1]["direction"] == "left_to_right" and stored[1]["labels"] == ["vehicle", "person"]
    assert _camera_from_row(_row(stored)).zones == ZONES


def test_rows_from_before_line_zones_keep_their_meaning() -> None:
    old = [{k: v for k, v in z.items() if k not in ("direction", "labels")} for z in zones_json(ZONES[:1])]
    [zone] = _camera_from_row(_row(old)).zones
    assert zone == ZONES[0]
