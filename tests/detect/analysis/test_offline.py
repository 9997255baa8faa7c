"""A camera that stays down opens one maintenance incident, routed like any other to its grid.

The camera is really unreachable (its RTSP source fails to connect); the tolerance is measured on a
ManualClock, so the test waits for the camera's health to turn OFFLINE, not for time to pass.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from api.site import demo_site, load_site
from ingest.frames import FrameSource
from ingest.health import CameraHealth, CameraState, Transition
from models.clock import ManualClock
from models.link import RunCamera
from models.records import EventKind, LocatedBy
from models.store import Store
from tests.rig import T0, build_rig

#: The site's tolerance before a maintenance visit is ordered.
OFFLINE_AFTER_S = 300.0


async def health_reaches(health: CameraHealth, state: CameraState, timeout_s: float = 15) -> None:
    """Return once ``health`` is in ``state``: told by its on_change hook, which runs on this loop."""
    reached = asyncio.Event()

    def watch(_: CameraHealth, transition: Transition) -> None:
        if transition.state is state:
            reached.set()

    health.on_change = watch
    if health.state is not state:  # hooked first, then checked: no change can slip between the two
        await asyncio.wait_for(reached.wait(), timeout_s)


async def test_dead_camera_opens_one_maintenance_incident(store: Store) -> None:
    site = demo_site()
    # Nothing listens on port 1 of loopback: the camera can never connect.
    dead = [replace(c, source="rtsp://127.0.0.1:1/sub") for c in site.cameras]
    await load_site(store, replace(site, cameras=dead))
    clock = ManualClock(T0)
    rig = await build_rig(store, clock, timezone=site.timezone, offline_after_s=OFFLINE_AFTER_S)
    [camera] = rig.centre.routing.cameras.values()
    try:
        await rig.analysis.send(RunCamera(camera))
        # The camera's loop, a task send() just created, opens its source when the loop next turns.
        await asyncio.sleep(0)
        source: FrameSource | None = rig.analysis.live[camera.id].source
        assert source is not None, "the camera loop has not opened its source"
        await health_reaches(source.health, CameraState.OFFLINE)
        assert source.health.since == T0

        clock.advance(OFFLINE_AFTER_S - 1)
        assert await rig.analysis.check_offline() == []  # within the tolerance: nobody is sent yet
        clock.advance(1)
        [report] = await rig.analysis.check_offline()
        assert report.event.kind is EventKind.CAMERA_OFFLINE and report.event.started_at == T0
        assert len(rig.link.opened) == 1
        for _ in range(8):  # the same outage never raises a second one
            clock.advance(60)
            assert await rig.analysis.check_offline() == []
        assert source.health.state is CameraState.OFFLINE  # still the same outage
    finally:
        await rig.stop()
    assert len(rig.link.opened) == 1
    incident = await store.incidents.get(rig.link.opened[0])
    assert (incident.kind, incident.department, incident.camera_id) == (
        EventKind.CAMERA_OFFLINE,
        "运维",
        "cam-dongguan-road",
    )
    assert incident.located_by is LocatedBy.CAMERA_MOUNT
    assert incident.unit_code.startswith("379901001001")
    assert incident.assignee_id is not None
