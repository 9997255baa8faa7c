"""The REST API against the real store: lists, detail, transitions, evidence, errors, the live feed."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pytest

from api.app import create_app
from api.auth import AuthConfig
from api.runner import DEMO_PASSWORD, demo_site, load_site, seed_demo_users
from api.service import LiveView, Service
from detect.analyzer import AnalyzerOutput, CameraAnalyzer, evidence_of
from detect.clips import ClipRecorder
from detect.rules import Phase
from ingest.frames import Frame
from models.clock import ManualClock
from models.records import Detection, Event, EventKind
from models.store import Store

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai: the day shift


class NoDetector:
    """These tests feed events directly; a camera loop calling the detector would be a bug."""

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        raise AssertionError("the API tests run no camera")


def crowd_output(x: float) -> AnalyzerOutput:
    """A crowd START whose five people stand around image column x (left half → grid …001)."""
    people = tuple(Detection((x + 10 * i, 300, x + 10 * i + 30, 400), 0.8, "person", 0) for i in range(5))
    snapshot, clean = b"\xff\xd8snapshot" + bytes([int(x) % 256]), b"\xff\xd8clean" + bytes([int(x) % 256])
    event = Event(
        kind=EventKind.CROWD,
        camera_id="cam-dongguan-road",
        zone_name="road",
        started_at=T0,
        confidence=0.8,
        detections=people,
        person_count=5,
        evidence=(evidence_of(snapshot), evidence_of(clean)),
    )
    return AnalyzerOutput(Phase.START, event, snapshot, clean)


@pytest.fixture
async def service(store: Store) -> AsyncIterator[Service]:
    site = demo_site()
    await load_site(store, replace(site, cameras=[replace(c, source="unused.avi") for c in site.cameras]))
    await seed_demo_users(store)
    svc = Service(store, NoDetector(), ManualClock(T0), timezone=site.timezone)
    await svc.load()
    yield svc
    await svc.stop()


async def signed_in(service: Service, username: str) -> httpx.AsyncClient:
    app = create_app(service, AuthConfig.for_demo())
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gridwatch")
    response = await c.post("/api/auth/token", json={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    c.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return c


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    """The county command centre: sees the whole county."""
    c = await signed_in(service, "command")
    yield c
    await c.aclose()


@pytest.fixture
async def worker(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    """王芳 (w001), grid worker of 东关一网格 on the day shift."""
    c = await signed_in(service, "w001")
    yield c
    await c.aclose()


async def test_incident_is_listed_complete_and_detailed(service: Service, client: httpx.AsyncClient) -> None:
    result = await service.handle(crowd_output(100))
    assert result is not None
    incident_id, created = result
    assert created
    response = await client.get("/api/incidents")
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == 1
    item = page["items"][0]
    assert item["place"]["grid_code"] == "379901001001001"
    assert [u["code"] for u in item["place"]["chain"]] == [
        "379901",
        "379901001",
        "379901001001",
        "379901001001001",
    ]
    assert item["assignee"] == {"worker_id": "w001", "name": "王芳", "phone": "13800000001"}
    assert (item["kind"], item["department"], item["category_code"]) == ("crowd", "综治/公安", "GW-CROWD-01")
    assert item["opened_at"] == T0.isoformat() and item["accept_by"] is not None
    detail = (await client.get(f"/api/incidents/{incident_id}")).json()
    assert [e["to_state"] for e in detail["log"]] == ["reported", "dispatched"]
    evidence = detail["events"][0]["evidence"]
    assert {e["role"] for e in evidence} == {"snapshot", "clean"}
    image = await client.get(evidence[0]["url"])
    assert image.status_code == 200 and image.content.startswith(b"\xff\xd8")
    assert image.headers["x-content-sha256"] == evidence[0]["sha256"]


async def test_filters_by_unit_subtree_kind_and_state(service: Service, client: httpx.AsyncClient) -> None:
    await service.handle(crowd_output(100))  # left half: 东关一网格
    await service.handle(crowd_output(600))  # right half: 东关二网格
    assert (await client.get("/api/incidents", params={"unit": "379901001001002"})).json()["total"] == 1
    assert (await client.get("/api/incidents", params={"unit": "379901001"})).json()["total"] == 2
    assert (await client.get("/api/incidents", params={"unit": "379901002"})).json()["total"] == 0
    assert (await client.get("/api/incidents", params={"kind": "fire"})).json()["total"] == 0
    assert (await client.get("/api/incidents", params={"state": "closed"})).json()["total"] == 0
    assert (await client.get("/api/incidents", params={"open_only": "true"})).json()["total"] == 2


async def test_same_place_attaches_instead_of_duplicating(
    service: Service, client: httpx.AsyncClient
) -> None:
    first = await service.handle(crowd_output(100))
    second = await service.handle(crowd_output(104))
    assert first is not None and second is not None
    assert first[0] == second[0] and second[1] is False
    item = (await client.get("/api/incidents")).json()["items"][0]
    assert item["event_count"] == 2


async def test_worker_walks_the_loop_and_illegal_steps_are_refused(
    service: Service, worker: httpx.AsyncClient
) -> None:
    result = await service.handle(crowd_output(100))
    assert result is not None
    mine = (await worker.get("/api/incidents", params={"mine": "true"})).json()
    assert [i["id"] for i in mine["items"]] == [str(result[0])]
    url = f"/api/incidents/{result[0]}/transitions"
    for action, state in [("accept", "accepted"), ("start", "in_progress"), ("resolve", "resolved")]:
        response = await worker.post(url, json={"action": action, "note": "到场处置"})
        assert response.status_code == 200, response.text
        assert response.json()["state"] == state
    refused = await worker.post(url, json={"action": "accept"})
    assert refused.status_code == 409 and "resolved" in refused.json()["detail"]
    stale = await worker.post(url, json={"action": "verify", "expected_state": "accepted"})
    assert stale.status_code == 409
    log = (await worker.get(f"/api/incidents/{result[0]}")).json()["log"]
    assert [(e["action"], e["actor"]) for e in log[2:]] == [
        ("accept", "w001"),
        ("start", "w001"),
        ("resolve", "w001"),
    ]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/api/incidents/not-a-uuid", None, 404),
        ("GET", "/api/incidents/6f1c2a3e-0000-4000-8000-000000000000", None, 404),
        ("GET", "/api/incidents?limit=1000", None, 422),
        ("GET", "/api/incidents?unit=3799", None, 422),
        ("GET", "/api/incidents?kind=ufo", None, 422),
        ("GET", "/api/evidence/..%2Fetc%2Fpasswd", None, 404),
        ("GET", "/api/cameras/nope/mjpeg", None, 404),
        (
            "POST",
            "/api/incidents/6f1c2a3e-0000-4000-8000-000000000000/transitions",
            {"action": "x"},
            422,
        ),
        (
            "POST",
            "/api/incidents/6f1c2a3e-0000-4000-8000-000000000000/transitions",
            {"note": "no action"},
            422,
        ),
        (
            "POST",
            "/api/incidents/6f1c2a3e-0000-4000-8000-000000000000/transitions",
            {"action": "accept", "actor": "someone else"},
            422,
        ),
    ],
)
async def test_bad_requests_get_a_clear_4xx(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    body: dict | None,
    status: int,  # type: ignore[type-arg]
) -> None:
    response = await client.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert response.json()["detail"]


async def test_outbox_reaches_live_feed_subscribers(service: Service) -> None:
    async with service.broadcaster.subscribe() as queue:
        result = await service.handle(crowd_output(100))
        assert result is not None
        delivered = await service.relay.deliver_pending()
        message = await asyncio.wait_for(queue.get(), 2)
    assert delivered == 1
    assert message["type"] == "incident.opened"
    assert message["incident"]["id"] == str(result[0])
    assert message["incident"]["assignee"]["worker_id"] == "w001"
    assert await service.store.pending_outbox() == []


async def test_grids_carry_open_incident_counts(service: Service, client: httpx.AsyncClient) -> None:
    await service.handle(crowd_output(600))
    grids = (await client.get("/api/grids")).json()
    counts = {f["properties"]["code"]: f["properties"]["open_incidents"] for f in grids["features"]}
    assert len(counts) == 11
    assert counts["379901001001002"] == 1 and sum(counts.values()) == 1


class PeopleOnTheRoad:
    """Six people standing in the demo camera's crowd zone, frame after frame."""

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        return [
            [Detection((x - 15.0, 160.0, x + 15.0, 260.0), 0.9, "person", 0) for x in range(300, 420, 20)]
            for _ in images
        ]


async def test_recorded_event_gets_its_clip_served_as_mp4(service: Service) -> None:
    """Camera frames → crowd START (recorded) → five seconds more → the clip joins the event's evidence."""
    running = Service(service.store, PeopleOnTheRoad(), ManualClock(T0), timezone=service.timezone)
    await running.load()
    camera = running.cameras["cam-dongguan-road"]
    analyzer = CameraAnalyzer(camera)
    view = LiveView()
    image = np.full((576, 768, 3), 120, np.uint8)
    opened: list[uuid.UUID] = []
    try:
        for i in range(30):
            frame = Frame(camera.id, i, T0 + timedelta(seconds=i * 0.5), image, keyframe=False)
            opened += await running.analyse(camera, analyzer, frame, view)
        await running.settle_clips()  # clips are encoded on the service's background clip thread
        [incident_id] = opened
        c = await signed_in(running, "command")
        try:
            detail = (await c.get(f"/api/incidents/{incident_id}")).json()
            [event] = detail["events"]
            clips = [e for e in event["evidence"] if e["role"] == "clip"]
            assert {e["role"] for e in event["evidence"]} == {"snapshot", "clean", "clip"}
            [clip] = clips
            assert clip["media_type"] == "video/mp4"
            response = await c.get(clip["url"])
        finally:
            await c.aclose()
    finally:
        await running.stop()
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert response.content[4:8] == b"ftyp" and len(response.content) == clip["size"]
    digest = hashlib.sha256(response.content).hexdigest()
    assert digest == clip["sha256"] == response.headers["x-content-sha256"]
    # The clip arrived after the START: its own outbox row tells the wall and the worker page to refresh.
    topics = [o["topic"] for o in await service.store.pending_outbox()]
    assert topics == ["incident.opened", "incident.updated"]


async def test_a_clip_without_its_event_is_dropped_quietly(service: Service) -> None:
    recorder = ClipRecorder(fps=2, pre_seconds=0, post_seconds=0)
    recorder.add(T0, np.zeros((64, 64, 3), np.uint8), [])
    recorder.start(uuid.uuid4(), T0)
    [clip] = recorder.take_finished()
    assert await service.store_clip(clip) is None
    assert await service.store.pending_outbox() == []


async def test_clips_are_encoded_off_the_analysis_path_and_stored_by_stop(service: Service) -> None:
    """analyse() returns before a finished clip is encoded; stop() still gets it into the database."""
    running = Service(service.store, PeopleOnTheRoad(), ManualClock(T0), timezone=service.timezone)
    await running.load()
    camera = running.cameras["cam-dongguan-road"]
    analyzer = CameraAnalyzer(camera, clips=ClipRecorder(fps=2, pre_seconds=1, post_seconds=1))
    view = LiveView()
    image = np.full((576, 768, 3), 120, np.uint8)
    opened: list[uuid.UUID] = []
    for i in range(40):  # the crowd zone's dwell time, then one second of post-roll
        frame = Frame(camera.id, i, T0 + timedelta(seconds=i * 0.5), image, keyframe=False)
        opened += await running.analyse(camera, analyzer, frame, view)
        if running._clip_tasks:
            break  # the frame that finished the clip: analyse() came back with the clip still queued
    assert running._clip_tasks, "no clip was handed to the clip thread"
    await running.stop()
    assert running._clip_pool is None and not running._clip_tasks
    [incident_id] = opened
    [event] = await service.store.incident_events(incident_id)
    assert {e["role"] for e in event["evidence"]} == {"snapshot", "clean", "clip"}
