"""A camera that stays down opens one maintenance incident, routed like any other to its grid."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from api.runner import demo_site, load_site
from api.service import Service
from models.clock import SystemClock
from models.store import Store
from tests.api.test_app import NoDetector


async def test_dead_camera_opens_one_maintenance_incident(store: Store) -> None:
    site = demo_site()
    # Nothing listens on port 1 of loopback: the camera can never connect.
    dead = [replace(c, source="rtsp://127.0.0.1:1/sub") for c in site.cameras]
    await load_site(store, replace(site, cameras=dead))
    service = Service(store, NoDetector(), SystemClock(), timezone=site.timezone, offline_after_s=1.0)
    await service.start()
    try:
        opened: list = []  # type: ignore[type-arg]
        for _ in range(40):
            await asyncio.sleep(0.25)
            opened += await service.check_offline()
            if opened:
                break
        assert len(opened) == 1
        for _ in range(8):  # the same outage never raises a second one
            await asyncio.sleep(0.25)
            assert await service.check_offline() == []
    finally:
        await service.stop()
    row = await store.get_incident_row(opened[0])
    assert (row["kind"], row["department"], row["camera_id"]) == (
        "camera_offline",
        "运维",
        "cam-dongguan-road",
    )
    assert row["located_by"] == "camera_mount"
    assert row["unit_code"].startswith("379901001001")
    assert row["assignee_id"] is not None
