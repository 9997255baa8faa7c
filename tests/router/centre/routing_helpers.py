"""Route events for the demo county as the centre's Routing does, for tests that need real incidents."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from models.incidents import IncidentOpening
from models.records import Detection, Event, EventKind
from router.duty import Roster
from router.geo import camera_homography
from router.grids import GridIndex
from router.pipeline import Router
from router.triage import DEFAULT_TABLE
from tests.router.demo_data import CAMERA_ID, demo_cameras, demo_grids, demo_shifts


def demo_router(copies: int = 1) -> Router:
    """The demo camera plus `copies - 1` clones with other ids and the same calibration."""
    base = demo_cameras()[CAMERA_ID]
    cameras = {base.id: base}
    for n in range(1, copies):
        clone = replace(base, id=f"{CAMERA_ID}-{n}")
        cameras[clone.id] = clone
    homographies = {cid: camera_homography(c) for cid, c in cameras.items()}
    return Router(GridIndex(demo_grids()), Roster(demo_shifts()), homographies, cameras, DEFAULT_TABLE)


def stall_event(camera_id: str, at: datetime, foot: tuple[float, float] = (235, 262)) -> Event:
    x, y = foot
    box = Detection((x - 10, y - 40, x + 10, y), 0.9, "person", 0)
    return Event(EventKind.OCCUPATION, camera_id, "lane", at, 0.9, (box,), id=uuid.uuid4())


def opening(router: Router, event: Event) -> IncidentOpening:
    return router.route(event, at=event.started_at).opening()
