"""The camera registry API: run-time add/replace/remove, URL admission (422 + reason), no leaked secrets."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import replace

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from api.site import DEMO_PASSWORD, demo_site, load_site, seed_demo_users
from api.wiring import build_app
from ingest.camera_urls import parse_subnets
from models.clock import SystemClock
from models.records import Detection, LineDirection, ZoneKind
from models.store import Store
from tests.ingest.waiting import wait_until
from tests.rig import Rig, build_rig
from tests.servers import free_port

CANARY = "canary-Registry-3f9b07"


class NoDetector:
    """Sees nothing: the registry's cameras are never reached, so no frame is ever analysed."""

    name = "nothing"
    labels: Mapping[int, str] = {0: "person"}

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        return [[] for _ in images]


@pytest.fixture
async def rig(store: Store) -> AsyncIterator[Rig]:
    """The demo county with its camera disabled: the registry's cameras are the only ones running."""
    site = demo_site()
    await load_site(store, replace(site, cameras=[replace(c, enabled=False) for c in site.cameras]))
    await seed_demo_users(store)
    built = await build_rig(store, SystemClock(), NoDetector(), timezone=site.timezone)
    yield built
    await built.stop()


def app_with_subnets(rig: Rig, *subnets: str) -> FastAPI:
    """The rig's roles behind an app that admits camera URLs in ``subnets`` (site.camera_subnets)."""
    return build_app(rig.centre, rig.analysis, rig.auth, camera_subnets=parse_subnets(subnets))


@pytest.fixture
async def admin(rig: Rig) -> AsyncIterator[httpx.AsyncClient]:
    app = app_with_subnets(rig, "127.0.0.0/8", "192.168.10.0/24")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gridwatch")
    response = await client.post("/api/auth/token", json={"username": "admin", "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    yield client
    await client.aclose()


def camera_body(source: str, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id": "cam-new",
        "name": "New gate",
        "source": source,
        "frame_size": [640, 480],
        "mount": {"lonlat": [113.70, 34.75]},
        "zones": [],
    }
    return {**body, **changes}


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("rtsp://127.1/", "shorthand IPv4"),
        ("rtsp://2130706433/", "shorthand IPv4"),
        ("file:/etc/passwd", "not a URL"),
        ("/etc/passwd", "not a URL"),
        ("rtsp://127.0.0.1/cam;reboot", "characters"),
        ("rtsp://127.0.0.1/$(id)", "characters"),
        ("rtsp://10.1.2.3/cam", "outside the site's camera subnets"),
        (f"rtsp://admin:{CANARY}@127.0.0.1/cam", "inline password"),
    ],
)
async def test_refused_sources_are_422_with_a_reason(
    admin: httpx.AsyncClient, rig: Rig, source: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await admin.post("/api/registry/cameras", json=camera_body(source))
    assert response.status_code == 422, response.text
    assert reason in response.json()["detail"][0]["reason"]
    assert "cam-new" not in rig.centre.routing.cameras and "cam-new" not in rig.analysis.running
    assert CANARY not in response.text and CANARY not in caplog.text


async def test_onvif_events_are_refused_at_run_time_with_where_they_go(
    admin: httpx.AsyncClient, rig: Rig
) -> None:
    body = camera_body("rtsp://127.0.0.1/cam", onvif={"host": "127.0.0.1", "port": 80})
    response = await admin.post("/api/registry/cameras", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == [
        {
            "reason": "onvif: set a camera's ONVIF endpoint in the site file (cameras[].onvif) "
            "or by `gridwatch onboard`"
        }
    ]
    assert "cam-new" not in rig.centre.routing.cameras


async def test_cameras_and_zones_change_at_run_time_and_secrets_never_leak(
    admin: httpx.AsyncClient,
    rig: Rig,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("TEST_CAM_PASSWORD", CANARY)
    # Nothing listens there: the camera connects, fails and retries, logging its URL each time.
    source = f"rtsp://admin:${{TEST_CAM_PASSWORD}}@127.0.0.1:{free_port()}/cam"
    captured: list[str] = []

    created = await admin.post("/api/registry/cameras", json=camera_body(source))
    captured.append(created.text)
    assert created.status_code == 201, created.text
    assert created.json()["source"].startswith("rtsp://***:***@127.0.0.1")
    assert "cam-new" in rig.centre.routing.cameras and "cam-new" in rig.analysis.running
    assert (await admin.post("/api/registry/cameras", json=camera_body(source))).status_code == 409
    assert await wait_until(lambda: rig.analysis.status("cam-new")["state"] == "offline", 10) is not None

    zones = [
        {"kind": "crowd", "name": "square", "polygon_px": [[0, 0], [300, 0], [300, 300]], "min_persons": 3}
    ]
    updated = await admin.put("/api/registry/cameras/cam-new/zones", json=zones)
    captured.append(updated.text)
    assert updated.status_code == 200, updated.text
    assert [z.name for z in rig.centre.routing.cameras["cam-new"].zones] == ["square"]
    outside = [{"kind": "crowd", "name": "big", "polygon_px": [[0, 0], [900, 0], [900, 300]]}]
    refused = await admin.put("/api/registry/cameras/cam-new/zones", json=outside)
    assert refused.status_code == 422 and "outside" in refused.text
    ring = [[10 + i, 10 + (i % 2) * 5] for i in range(65)]
    too_many = await admin.put(
        "/api/registry/cameras/cam-new/zones", json=[{"kind": "fire", "name": "n", "polygon_px": ring}]
    )
    assert too_many.status_code == 422 and "64" in too_many.text, too_many.text
    gate = {"kind": "line", "name": "lane-gate", "polygon_px": [[10, 100], [300, 90]],
            "direction": "right_to_left", "labels": ["vehicle", "person"]}  # fmt: skip
    gated = await admin.put("/api/registry/cameras/cam-new/zones", json=[gate])
    assert gated.status_code == 200, gated.text
    [line] = rig.centre.routing.cameras["cam-new"].zones
    assert (line.kind, line.direction, line.labels) == (
        ZoneKind.LINE, LineDirection.RIGHT_TO_LEFT, ("vehicle", "person")
    )  # fmt: skip
    [stored] = [c for c in await rig.store.cameras.load() if c.id == "cam-new"]
    assert stored.zones == rig.centre.routing.cameras["cam-new"].zones  # survives a restart as it was sent
    bent = {**gate, "polygon_px": [[10, 100], [150, 50], [300, 90]]}
    refused = await admin.put("/api/registry/cameras/cam-new/zones", json=[bent])
    assert refused.status_code == 422 and "exactly 2 points" in refused.text, refused.text

    moved = await admin.put("/api/registry/cameras/cam-new", json=camera_body(source, name="Renamed"))
    captured.append(moved.text)
    assert moved.status_code == 200 and rig.centre.routing.cameras["cam-new"].name == "Renamed"
    for path in ("/api/registry/cameras", "/api/registry/cameras/cam-new", "/api/cameras", "/api/status"):
        response = await admin.get(path)
        assert response.status_code == 200, (path, response.text)
        captured.append(response.text)

    assert (await admin.delete("/api/registry/cameras/cam-new")).status_code == 204
    assert "cam-new" not in rig.centre.routing.cameras and "cam-new" not in rig.analysis.running
    assert (await admin.get("/api/registry/cameras/cam-new")).status_code == 404
    assert (await admin.delete("/api/registry/cameras/cam-new")).status_code == 404

    assert any("cannot open stream" in r.getMessage() for r in caplog.records)
    trail = [e for e in reversed(await rig.store.audit.entries("camera")) if e.object_id == "cam-new"]
    assert [(e.actor, e.action) for e in trail] == [
        ("admin", "add"),
        ("admin", "replace_zones"),
        ("admin", "replace_zones"),
        ("admin", "replace"),
        ("admin", "remove"),
    ]  # registry changes are audited; the refused ones changed nothing
    captured.extend(repr(e) for e in await rig.store.audit.entries())
    assert all(CANARY not in text for text in [caplog.text, *captured])


async def test_only_admins_change_the_registry(rig: Rig) -> None:
    app = app_with_subnets(rig, "127.0.0.0/8")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gridwatch") as c:
        response = await c.post("/api/registry/cameras", json=camera_body("rtsp://127.0.0.1/x"))
        assert response.status_code == 401
