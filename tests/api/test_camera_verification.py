"""Closure verified by the camera, in the system ``gridwatch serve`` builds, on the real vtest video.

Frames of vtest.avi go through the service's analysis node (the person model, tracking, the demo zones) on
a fake clock, 2 analysed frames per video second as a camera loop takes them; the crowd incident they open
is accepted, started and resolved by its grid worker through the HTTP API. Then:

- people stay on the road (the video goes on): the camera reopens the case within the window, with a fresh
  snapshot attached, still assigned to the worker and on fresh deadlines;
- the road is empty: the camera verifies the case once the whole window passed clear, actor ``camera``,
  with the last clear snapshot attached. The empty road is real footage: the per-pixel median of the
  video's frames, in which the walkers (each at a place for a moment only) vanish and the street remains.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from api.auth import AuthConfig
from api.site import DEMO_PASSWORD, demo_site, load_site, seed_demo_users
from api.wiring import System, build_system
from detect.analysis.analyzer import CameraAnalyzer
from detect.analysis.live import LiveView
from detect.backends.factory import build_detector
from detect.port import Detector
from ingest.frames import Frame
from models.clock import ManualClock
from models.incidents import Incident
from models.records import Camera, EventKind, IncidentState
from models.store import Store
from router.lifecycle import Action
from tests.detect.conftest import read_frames
from tests.rig import T0

pytestmark = pytest.mark.slow

WINDOW = timedelta(seconds=30)
#: One analysed frame every 5 video frames of a 10 fps file: the service's default 2 fps.
STEP_S = 0.5


@pytest.fixture(scope="module")
def detector() -> Detector:
    return build_detector()


@pytest.fixture(scope="module")
def empty_road(vtest: Path) -> np.ndarray:
    frames = [image for _, image in read_frames(vtest, 0, 795, 10)]
    return np.median(np.stack(frames), axis=0).astype(np.uint8)


@dataclass
class Running:
    system: System
    store: Store
    clock: ManualClock
    camera: Camera
    analyzer: CameraAnalyzer
    view: LiveView
    index: Iterator[int]

    async def feed(self, images: Iterable[np.ndarray]) -> None:
        for image in images:
            self.clock.advance(STEP_S)
            frame = Frame(self.camera.id, next(self.index), self.clock.now(), image, keyframe=False)
            await self.system.analysis.analyse(self.camera, self.analyzer, frame, self.view)
        await self.system.link.join()

    async def feed_until_moved(self, incident_id: uuid.UUID, images: Iterable[np.ndarray]) -> Incident:
        """Feed frames one by one until the incident leaves ``resolved``; returns it as it then stands."""
        for image in images:
            await self.feed([image])
            incident = await self.store.incidents.get(incident_id)
            if incident.state is not IncidentState.RESOLVED:
                return incident
        return await self.store.incidents.get(incident_id)

    async def client(self, username: str) -> httpx.AsyncClient:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.system.app), base_url="http://gridwatch")
        response = await c.post("/api/auth/token", json={"username": username, "password": DEMO_PASSWORD})
        assert response.status_code == 200, response.text
        c.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return c


@pytest.fixture
async def running(store: Store, vtest: Path, detector: Detector) -> AsyncIterator[Running]:
    site = demo_site()
    site = replace(site, cameras=[replace(c, source=str(vtest)) for c in site.cameras])
    await load_site(store, site)
    await seed_demo_users(store)
    clock = ManualClock(T0)
    system = build_system(
        store, detector, clock, AuthConfig.for_demo(), clear_windows={EventKind.CROWD: WINDOW}
    )
    # The test is the camera: it hands the node the video's frames on the fake clock.
    await system.start(cameras=())
    camera = site.cameras[0]
    # Clips play no part in verification; leaving them out spares the shared CPUs their encoding.
    run = Running(
        system, store, clock, camera, CameraAnalyzer(camera, clips=False), LiveView(), itertools.count()
    )
    try:
        yield run
    finally:
        await system.stop()


async def resolved_crowd(run: Running, vtest: Path) -> tuple[Incident, str]:
    """Frames 250–420 open the crowd incident; its worker resolves it over HTTP. Returns it and the worker."""
    await run.feed(image for _, image in read_frames(vtest, 250, 420, 5))
    [incident] = [i for i in (await run.store.incidents.page())[0] if i.kind is EventKind.CROWD]
    assert incident.state is IncidentState.DISPATCHED and incident.assignee_id is not None
    worker = await run.client(incident.assignee_id)
    for action in (Action.ACCEPT, Action.START, Action.RESOLVE):
        response = await worker.post(
            f"/api/incidents/{incident.id}/transitions", json={"action": action.value, "note": "劝离"}
        )
        assert response.status_code == 200, response.text
    assert response.json()["state"] == "resolved"
    return await run.store.incidents.get(incident.id), incident.assignee_id


async def test_people_still_on_the_road_reopen_the_case_with_a_fresh_snapshot(
    running: Running, vtest: Path
) -> None:
    incident, worker = await resolved_crowd(running, vtest)
    resolved_at = (await running.store.incidents.log(incident.id))[-1].at
    # The video goes on: people keep walking on the road.
    moved = await running.feed_until_moved(
        incident.id, (image for _, image in read_frames(vtest, 420, 795, 5))
    )

    assert moved.state is IncidentState.REOPENED
    entry = (await running.store.incidents.log(incident.id))[-1]
    assert (entry.action, entry.actor) == ("reopen", "camera")
    assert entry.at - resolved_at <= WINDOW, "reopened after the window"
    assert "still sees crowd in zone road" in entry.note
    # The fresh snapshot: a JPEG of the road taken after the resolution, not the event's own snapshot.
    [attachment] = entry.attachments
    command = await running.client("command")
    picture = await command.get(f"/api/attachments/{attachment}")
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    assert cv2.imdecode(np.frombuffer(picture.content, np.uint8), cv2.IMREAD_COLOR).shape == (576, 768, 3)
    [event] = await running.store.incidents.events(incident.id)
    assert picture.headers["x-content-sha256"] not in {e.sha256 for e in event.evidence}
    # The worker is told: the case stays theirs, on fresh deadlines, announced through the outbox.
    assert moved.assignee_id == worker
    timers = await running.store.pool.fetch(
        "SELECT due_at FROM timers WHERE incident_id = $1 AND fired_at IS NULL AND cancelled_at IS NULL",
        incident.id,
    )
    assert timers and all(t["due_at"] > entry.at for t in timers)
    announced = await running.store.pool.fetch(
        "SELECT payload FROM outbox WHERE incident_id = $1 AND topic = 'incident.reopened'", incident.id
    )
    assert {"incident_id": str(incident.id), "state": "reopened", "action": "reopen"} in [
        a["payload"] for a in announced
    ]


async def test_an_empty_road_lets_the_camera_verify_the_case(
    running: Running, vtest: Path, empty_road: np.ndarray
) -> None:
    incident, worker = await resolved_crowd(running, vtest)
    resolved_at = (await running.store.incidents.log(incident.id))[-1].at
    # The crowd has left: the camera sees the empty road for longer than the window.
    frames = round(2 * WINDOW.total_seconds() / STEP_S)
    moved = await running.feed_until_moved(incident.id, itertools.repeat(empty_road, frames))

    assert moved.state is IncidentState.VERIFIED
    entry = (await running.store.incidents.log(incident.id))[-1]
    assert (entry.action, entry.actor) == ("verify", "camera")
    assert entry.actor != worker
    assert entry.at - resolved_at >= WINDOW, "verified before the whole window passed"
    [attachment] = entry.attachments
    command = await running.client("command")
    picture = await command.get(f"/api/attachments/{attachment}")
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    # The county closes what the camera verified.
    closed = await command.post(f"/api/incidents/{incident.id}/transitions", json={"action": "close"})
    assert closed.status_code == 200, closed.text
