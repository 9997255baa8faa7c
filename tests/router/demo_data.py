"""The demo county read straight from ../shared/data/demo beside the checkout, parsed as simply as works.

The real importers live in router/imports/; these loaders exist so the pure core is tested against
the real files without depending on them.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from models.records import CalibrationPoint, Camera, Grid, GridKind, Mount, Role, Shift
from router.duty import parse_hhmm, parse_weekdays
from tests.conftest import SHARED

DEMO = SHARED / "data" / "demo"
CAMERA_ID = "cam-dongguan-road"
#: Who the demo roster puts on duty per grid (roster.csv): day shift 08:00–20:00, night 20:00–08:00.
DAY = {"379901001001001": "w001", "379901001001002": "w003"}
NIGHT = {"379901001001001": "w002", "379901001001002": "w004"}


def on_duty(at: datetime) -> dict[str, str]:
    """The demo's grid worker per grid at ``at``, read off the shifts above in the demo's zone."""
    hour = at.astimezone(ZoneInfo("Asia/Shanghai")).hour
    return DAY if 8 <= hour < 20 else NIGHT


@cache
def demo_grids() -> tuple[Grid, ...]:
    collection = json.loads((DEMO / "grids.geojson").read_text(encoding="utf-8"))
    return tuple(_grid(feature) for feature in collection["features"])


def _grid(feature: dict[str, Any]) -> Grid:
    p = feature["properties"]
    return Grid(
        code=p["code"],
        name=p["name"],
        kind=GridKind(p["kind"]),
        county_code=p["county_code"],
        county_name=p["county_name"],
        township_code=p["township_code"],
        township_name=p["township_name"],
        community_code=p["community_code"],
        community_name=p["community_name"],
        geometry=feature["geometry"],
        exclusive_type=p.get("exclusive_type"),
        households=p.get("households"),
    )


@cache
def demo_shifts() -> tuple[Shift, ...]:
    with (DEMO / "roster.csv").open(encoding="utf-8", newline="") as f:
        return tuple(
            Shift(
                worker_id=row["worker_id"],
                name=row["name"],
                phone=row["phone"],
                role=Role(row["role"]),
                unit_code=row["unit_code"],
                weekdays=parse_weekdays(row["weekdays"]),
                start_minute=parse_hhmm(row["start"], allow_24=False),
                end_minute=parse_hhmm(row["end"], allow_24=True),
            )
            for row in csv.DictReader(f)
        )


@cache
def demo_cameras() -> dict[str, Camera]:
    document = json.loads((DEMO / "cameras.json").read_text(encoding="utf-8"))
    return {c["id"]: _camera(c) for c in document["cameras"]}


@cache
def demo_facts() -> dict[str, str]:
    document = json.loads((DEMO / "cameras.json").read_text(encoding="utf-8"))
    facts: dict[str, str] = document["cameras"][0]["facts"]
    return facts


def _camera(c: dict[str, Any]) -> Camera:
    mount = c["mount"]
    return Camera(
        id=c["id"],
        name=c["name"],
        source=c["source"],
        frame_size=(c["frame_size"][0], c["frame_size"][1]),
        mount=Mount(tuple(mount["lonlat"]), mount.get("height_m"), mount.get("heading_deg")),
        calibration=tuple(CalibrationPoint(tuple(p["px"]), tuple(p["lonlat"])) for p in c["calibration"]),
    )
