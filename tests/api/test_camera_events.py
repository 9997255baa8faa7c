"""Cameras' own ONVIF events in the system ``serve`` builds: the site file's onvif: and camera_events:,
configured_site, build_system, the local ONVIF event service playing the cameras' part.

A tamper notification opens one maintenance incident for the camera's grid (a second tamper folds into it);
a vendor topic the site maps opens the mapped kind; an ``attach`` topic is logged on the open incident; a
camera without an Events service runs as usual; a subscription that dies shows as a health reason in
/api/cameras and clears when the device is back.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import httpx
import numpy as np
import pytest
import yaml

from api.auth import AuthConfig
from api.cli.running import serve_site
from api.site import DEMO_PASSWORD, configured_site, demo_site, load_site, seed_demo_users
from api.wiring import System, build_system
from ingest.camera_urls import parse_subnets
from ingest.onvif.models import DeviceReport, DeviceTarget, MediaProfile
from ingest.onvif.onboarding import merge_cameras
from models.clock import ManualClock
from models.incidents import Incident
from models.records import Detection, EventKind, LocatedBy, OnvifEndpoint
from models.store import Store
from tests.conftest import DEMO_DIR, REPO
from tests.ingest.onvif.event_service import EventService, Notification
from tests.rig import T0
from tests.servers import free_port

CANARY = "canary-OnvifEvents-4b7d21"
CAMERA = "cam-dongguan-road"
PLAIN = "cam-plain"
VENDOR = "tnsaxis:CameraApplicationPlatform/ObjectAnalytics/Device1Scenario1"
ATTACHED = "tns1:RuleEngine/FieldDetector/ObjectsInside"


class NoBoxes:
    """The person model seeing nobody: the cameras run, and only their own events open incidents."""

    name = "none"
    labels: Mapping[int, str] = MappingProxyType({0: "person"})

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        return [[] for _ in images]


def _site_file(tmp_path: Path, vtest: Path, events_port: int, plain_port: int) -> Path:
    site = yaml.safe_load((REPO / "docs" / "site.example.yaml").read_text(encoding="utf-8"))
    camera = site["cameras"][0]
    camera["source"] = str(vtest)
    camera["onvif"] = {
        "host": "127.0.0.1", "port": events_port, "user": "admin", "password": "${GW_TEST_ONVIF_PASSWORD}",
    }  # fmt: skip
    plain = copy.deepcopy(camera)
    plain.update(id=PLAIN, name="没有事件服务的摄像头", zones=[], analysis_fps=1)
    plain["onvif"] = {"host": "127.0.0.1", "port": plain_port}
    site["cameras"].append(plain)
    site["camera_events"] = [
        {"topic": VENDOR.rpartition("/")[0] + "/*", "kind": "crowd", "state_item": "active"},
        {"topic": ATTACHED, "kind": "attach"},
    ]
    site["notifications"] = []
    site["grids_file"] = str(DEMO_DIR / "grids.geojson")
    site["roster_file"] = str(DEMO_DIR / "roster.csv")
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site, allow_unicode=True), encoding="utf-8")
    return path


async def eventually(check: Callable[[], Awaitable[Any]], timeout_s: float = 20) -> Any:
    """The first truthy answer of ``check``, asked every 0.1 s (the store rings nothing a test can hear)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        answer = await check()
        if answer:
            return answer
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {check.__name__}")
        await asyncio.sleep(0.1)


async def _of_kind(store: Store, kind: EventKind) -> list[Incident]:
    return [i for i in (await store.incidents.page())[0] if i.kind is kind]


@pytest.fixture
async def services() -> AsyncIterator[tuple[EventService, EventService]]:
    events, plain = EventService(max_subscription_s=2), EventService(offers_events=False)
    await events.start()
    await plain.start()
    yield events, plain
    await events.stop()
    await plain.stop()


@pytest.fixture
async def system(
    services: tuple[EventService, EventService],
    store: Store,
    tmp_path: Path,
    vtest: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[System]:
    monkeypatch.setenv("GW_TEST_ONVIF_PASSWORD", CANARY)
    events, plain = services
    site, _ = configured_site(_site_file(tmp_path, vtest, events.port, plain.port))
    await load_site(store, site)
    await seed_demo_users(store)
    # What serve_site builds, with seconds-long subscriptions and retries so the test sees renewals.
    built = build_system(
        store,
        NoBoxes(),
        ManualClock(T0),
        AuthConfig.for_demo(),
        timezone=site.timezone,
        clip_seconds=None,
        camera_events=site.camera_events,
        camera_event_options={"subscription_s": 2, "pull_timeout_s": 1, "retry_s": 0.2, "retry_max_s": 0.4},
    )
    await built.start()
    try:
        yield built
    finally:
        await built.stop()


async def _client(system: System, username: str = "command") -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=system.app), base_url="http://gridwatch")
    response = await client.post("/api/auth/token", json={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return client


async def _camera_status(client: httpx.AsyncClient, camera_id: str) -> dict[str, Any]:
    response = await client.get("/api/cameras")
    assert response.status_code == 200, response.text
    [status] = [c["status"] for c in response.json() if c["id"] == camera_id]
    return status  # type: ignore[no-any-return]


async def test_camera_events_open_incidents_in_the_served_system(
    system: System,
    services: tuple[EventService, EventService],
    store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    events, plain = services
    assert await events.changes.until(lambda: bool(events.subscriptions), 15)

    # Tamper: one maintenance incident, for the grid the camera hangs in.
    events.publish([Notification("tns1:RuleEngine/TamperDetector/Tamper", {"IsTamper": "true"})])

    async def tampered() -> list[Incident]:
        return await _of_kind(store, EventKind.CAMERA_TAMPER)

    [incident] = await eventually(tampered)
    located = system.centre.routing.cameras[CAMERA].mount.lonlat
    assert incident.camera_id == CAMERA and incident.located_by is LocatedBy.CAMERA_MOUNT
    assert incident.grid_code == "379901001001001" and incident.department == "运维"
    assert incident.lonlat == pytest.approx(located)

    # A second tamper (another standard topic), and the first one ending: still one incident.
    events.publish(
        [
            Notification("tns1:RuleEngine/TamperDetector/Tamper", {"IsTamper": "false"}),
            Notification("tns1:VideoSource/GlobalSceneChange/ImagingService", {"State": "true"}),
        ]
    )

    async def folded() -> bool:
        return (await store.incidents.get(incident.id)).event_count == 2

    await eventually(folded)
    assert [i.id for i in await tampered()] == [incident.id]

    # attach: logged on the camera's open incident, opening nothing.
    events.publish([Notification(ATTACHED, {"IsInside": "true"}, source={"Rule": "Lane"})])

    async def attached() -> list[Any]:
        return [e for e in await store.incidents.log(incident.id) if e.action == "camera_event"]

    [entry] = await eventually(attached)
    assert entry.actor == "camera" and entry.note == f"{ATTACHED} IsInside=true"

    # The 2-second grant was renewed before it lapsed, in the running system.
    assert await events.changes.until(lambda: events.renewals >= 1, 10)
    assert events.lapsed == 0

    # A vendor topic the site maps opens the mapped kind.
    events.publish([Notification(VENDOR, {"active": "1"}, source={})])

    async def crowd() -> list[Incident]:
        return await _of_kind(store, EventKind.CROWD)

    [vendor] = await eventually(crowd)
    assert vendor.camera_id == CAMERA and vendor.grid_code == incident.grid_code
    assert len((await store.incidents.page())[0]) == 2

    # The camera without an Events service: normal, said once, and its analysis runs.
    client = await _client(system)
    try:

        async def plain_analysed() -> dict[str, Any] | None:
            status = await _camera_status(client, PLAIN)
            return status if status["analysed_frames"] > 0 else None

        status = await eventually(plain_analysed)
        assert status["camera_events"]["state"] == "no_events" and "reasons" not in status
        assert PLAIN in system.analysis.running and plain.subscriptions == {}
        said = [r for r in caplog.records if f"camera {PLAIN}: no event subscription" in r.getMessage()]
        assert len(said) == 1

        # The device goes away: a health reason on the camera, the camera's analysis untouched.
        before = (await _camera_status(client, CAMERA))["analysed_frames"]
        await events.stop()

        async def broken() -> dict[str, Any] | None:
            status = await _camera_status(client, CAMERA)
            return status if status.get("reasons") else None

        status = await eventually(broken)
        assert status["camera_events"]["state"] == "broken"
        assert status["reasons"][0].startswith("camera events: unreachable at ")

        # It comes back: subscribed again, no reason left, and a tamper still opens nothing new.
        await events.start(events.port)

        async def recovered() -> dict[str, Any] | None:
            status = await _camera_status(client, CAMERA)
            return status if status["camera_events"]["state"] == "subscribed" else None

        status = await eventually(recovered)
        assert "reasons" not in status and status["camera_events"]["subscriptions"] >= 2
        assert status["analysed_frames"] > before and CAMERA in system.analysis.running
    finally:
        await client.aclose()
    events.publish([Notification("tns1:RuleEngine/TamperDetector/Tamper", {"IsTamper": "true"})])

    async def folded_again() -> bool:
        return (await store.incidents.get(incident.id)).event_count == 3

    await eventually(folded_again)
    assert [i.id for i in await tampered()] == [incident.id]
    assert CANARY not in caplog.text


async def test_serve_site_subscribes_and_a_tamper_opens_its_incident(
    services: tuple[EventService, EventService],
    store: Store,
    db_url: str,
    tmp_path: Path,
    vtest: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What `gridwatch serve --config` runs (serve_site, HTTP server and all), with its default timings."""
    monkeypatch.setenv("GW_TEST_ONVIF_PASSWORD", CANARY)
    events, plain = services
    site, _ = configured_site(_site_file(tmp_path, vtest, events.port, plain.port))
    served = asyncio.create_task(
        serve_site(db_url, site, NoBoxes(), AuthConfig.for_demo(), host="127.0.0.1", port=free_port())
    )
    try:
        assert await events.changes.until(lambda: bool(events.subscriptions) or served.done(), 30)
        assert not served.done(), served.exception()
        events.publish([Notification("tnsaxis:VideoSource/Tampering", {"tampering": "1"}, source={})])

        async def tampered() -> list[Incident]:
            return await _of_kind(store, EventKind.CAMERA_TAMPER)

        [incident] = await eventually(tampered)
        assert incident.camera_id == CAMERA and incident.grid_code == "379901001001001"
    finally:
        served.cancel()
        await asyncio.wait([served])
    # serve_site unsubscribed on its way out, as it stops the camera.
    assert events.subscriptions == {}


async def test_an_onboarded_camera_is_subscribed_from_the_store_and_a_registry_replace_keeps_it(
    services: tuple[EventService, EventService], store: Store
) -> None:
    """`gridwatch onboard` stores the endpoint it probed; serve reads it back and subscribes."""
    events, _ = services
    target = DeviceTarget("127.0.0.1", events.port, "cam-onboarded", "东门", (118.63, 35.7907687))
    profile = MediaProfile("sub", "sub", "H264", 768, 576, 10.0, 20, "rtsp://127.0.0.1:9/sub", None)
    report = DeviceReport(target, T0, profiles=(profile,), has_events=True)
    [camera] = merge_cameras([(report, None)], {})
    assert camera.onvif == OnvifEndpoint("127.0.0.1", events.port, None, None, events=True)
    site = demo_site()
    await load_site(store, replace(site, cameras=[camera]))
    await seed_demo_users(store)
    assert (await store.cameras.get(camera.id)) == camera  # the endpoint survives the store

    system = build_system(
        store, NoBoxes(), ManualClock(T0), AuthConfig.for_demo(), timezone=site.timezone, clip_seconds=None,
        camera_subnets=parse_subnets(["127.0.0.0/8"]),
        camera_event_options={"subscription_s": 5, "pull_timeout_s": 1, "retry_s": 0.2},
    )  # fmt: skip
    await system.start()
    try:
        assert await events.changes.until(lambda: len(events.subscriptions) == 1, 15)
        events.publish([Notification("tns1:VideoSource/SignalLoss", {"State": "true"})])

        async def offline() -> list[Incident]:
            return await _of_kind(store, EventKind.CAMERA_OFFLINE)

        [incident] = await eventually(offline)
        assert incident.camera_id == camera.id and incident.grid_code == "379901001001001"

        # The registry cannot set an endpoint, and replacing the camera keeps the one onboarding found.
        client = await _client(system, "admin")
        try:
            body = {
                "name": "东门 (新)", "source": "rtsp://127.0.0.1:9/main", "frame_size": [768, 576],
                "mount": {"lonlat": [118.63, 35.7907687]}, "zones": [],
            }  # fmt: skip
            refused = await client.put(f"/api/registry/cameras/{camera.id}", json={**body, "onvif": {}})
            assert refused.status_code == 422, refused.text
            replaced = await client.put(f"/api/registry/cameras/{camera.id}", json=body)
            assert replaced.status_code == 200, replaced.text
        finally:
            await client.aclose()
        stored = await store.cameras.get(camera.id)
        assert stored is not None and stored.name == "东门 (新)" and stored.onvif == camera.onvif

        # The camera restarted with its new record, and its events with it: a second subscription.
        def resubscribed() -> bool:
            state = system.analysis.status(camera.id)["camera_events"]["state"]
            return max(events.subscriptions, default=0) == 2 and state == "subscribed"

        assert await events.changes.until(resubscribed, 15)
    finally:
        await system.stop()
