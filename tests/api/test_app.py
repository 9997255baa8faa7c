"""The REST API against the real store: lists, detail, transitions, evidence, errors, the live feed."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import httpx
import numpy as np
import pytest

from api.schemas import feed_json
from detect.analysis.analyzer import CameraAnalyzer
from detect.analysis.clips import ClipRecorder
from detect.analysis.live import LiveView
from ingest.frames import Frame
from models.link import ClipReport
from models.records import Detection, EvidenceBlob
from models.store import Store
from tests.rig import T0, Rig, crowd_output, demo_rig


@pytest.fixture
async def rig(store: Store) -> AsyncIterator[Rig]:
    built = await demo_rig(store)
    yield built
    await built.stop()


@pytest.fixture
async def client(rig: Rig) -> AsyncIterator[httpx.AsyncClient]:
    """The county command centre: sees the whole county."""
    c = await rig.client("command")
    yield c
    await c.aclose()


@pytest.fixture
async def worker(rig: Rig) -> AsyncIterator[httpx.AsyncClient]:
    """王芳 (w001), grid worker of 东关一网格 on the day shift."""
    c = await rig.client("w001")
    yield c
    await c.aclose()


async def test_incident_is_listed_complete_and_detailed(rig: Rig, client: httpx.AsyncClient) -> None:
    result = await rig.report(crowd_output(100))
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


async def test_filters_by_unit_subtree_kind_and_state(rig: Rig, client: httpx.AsyncClient) -> None:
    await rig.report(crowd_output(100))  # left half: 东关一网格
    await rig.report(crowd_output(600))  # right half: 东关二网格
    assert (await client.get("/api/incidents", params={"unit": "379901001001002"})).json()["total"] == 1
    assert (await client.get("/api/incidents", params={"unit": "379901001"})).json()["total"] == 2
    assert (await client.get("/api/incidents", params={"unit": "379901002"})).json()["total"] == 0
    assert (await client.get("/api/incidents", params={"kind": "fire"})).json()["total"] == 0
    assert (await client.get("/api/incidents", params={"state": "closed"})).json()["total"] == 0
    assert (await client.get("/api/incidents", params={"open_only": "true"})).json()["total"] == 2


async def test_same_place_attaches_instead_of_duplicating(rig: Rig, client: httpx.AsyncClient) -> None:
    first = await rig.report(crowd_output(100))
    second = await rig.report(crowd_output(104))
    assert first is not None and second is not None
    assert first[0] == second[0] and second[1] is False
    item = (await client.get("/api/incidents")).json()["items"][0]
    assert item["event_count"] == 2


async def test_worker_walks_the_loop_and_illegal_steps_are_refused(
    rig: Rig, worker: httpx.AsyncClient
) -> None:
    result = await rig.report(crowd_output(100))
    assert result is not None
    mine = (await worker.get("/api/incidents", params={"mine": "true"})).json()
    assert [i["id"] for i in mine["items"]] == [str(result[0])]
    url = f"/api/incidents/{result[0]}/transitions"
    for action, state in [("accept", "accepted"), ("start", "in_progress"), ("resolve", "resolved")]:
        response = await worker.post(url, json={"action": action, "note": "到场处置"})
        assert response.status_code == 200, response.text
        assert response.json()["state"] == state
    # A step the state machine does not allow now is one the worker's post may not take: 403, saying why.
    refused = await worker.post(url, json={"action": "accept"})
    assert refused.status_code == 403 and "resolved" in refused.json()["detail"]
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


async def test_outbox_reaches_live_feed_subscribers(rig: Rig) -> None:
    async with rig.centre.broadcaster.subscribe() as queue:
        result = await rig.report(crowd_output(100))
        assert result is not None
        delivered = await rig.centre.relay.deliver_pending()
        message = feed_json(await asyncio.wait_for(queue.get(), 2))
    assert delivered == 1
    assert message["type"] == "incident.opened"
    assert message["incident"]["id"] == str(result[0])
    assert message["incident"]["assignee"]["worker_id"] == "w001"
    assert await rig.store.outbox.pending() == []


async def test_grids_carry_open_incident_counts(rig: Rig, client: httpx.AsyncClient) -> None:
    await rig.report(crowd_output(600))
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


async def test_recorded_event_gets_its_clip_served_as_mp4(store: Store) -> None:
    """Camera frames → crowd START (recorded) → five seconds more → the clip joins the event's evidence."""
    running = await demo_rig(store, PeopleOnTheRoad())
    camera = running.centre.routing.cameras["cam-dongguan-road"]
    analyzer = CameraAnalyzer(camera)
    view = LiveView()
    image = np.full((576, 768, 3), 120, np.uint8)
    try:
        for i in range(30):
            frame = Frame(camera.id, i, T0 + timedelta(seconds=i * 0.5), image, keyframe=False)
            await running.analysis.analyse(camera, analyzer, frame, view)
        assert running.analysis.clips is not None
        await running.analysis.clips.settle()  # clips are encoded on the node's background clip thread
        [incident_id] = running.link.opened
        c = await running.client("command")
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
    topics = [o.topic for o in await store.outbox.pending()]
    assert topics == ["incident.opened", "incident.updated"]


async def test_a_clip_without_its_event_is_dropped_quietly(rig: Rig) -> None:
    recorder = ClipRecorder(fps=2, pre_seconds=0, post_seconds=0)
    recorder.add(T0, np.zeros((64, 64, 3), np.uint8), [])
    recorder.start(uuid.uuid4(), T0)
    [clip] = recorder.take_finished()
    blob = EvidenceBlob("clip", clip.media_type, clip.sha256, clip.data)
    assert await rig.centre.intake.attach_clip(ClipReport(clip.event_id, blob)) is None
    assert await rig.store.outbox.pending() == []


async def test_clips_are_encoded_off_the_analysis_path_and_stored_by_stop(store: Store) -> None:
    """analyse() returns before a finished clip is encoded; stop() still gets it into the database."""
    running = await demo_rig(store, PeopleOnTheRoad())
    clips = running.analysis.clips
    assert clips is not None
    camera = running.centre.routing.cameras["cam-dongguan-road"]
    analyzer = CameraAnalyzer(camera, clips=ClipRecorder(fps=2, pre_seconds=1, post_seconds=1))
    view = LiveView()
    image = np.full((576, 768, 3), 120, np.uint8)
    for i in range(40):  # the crowd zone's dwell time, then one second of post-roll
        frame = Frame(camera.id, i, T0 + timedelta(seconds=i * 0.5), image, keyframe=False)
        await running.analysis.analyse(camera, analyzer, frame, view)
        if clips.backlog:
            break  # the frame that finished the clip: analyse() came back with the clip still queued
    assert clips.backlog, "no clip was handed to the clip thread"
    await running.stop()
    assert clips.backlog == 0
    [incident_id] = running.link.opened
    [event] = await store.incidents.events(incident_id)
    assert {e.role for e in event.evidence} == {"snapshot", "clean", "clip"}
