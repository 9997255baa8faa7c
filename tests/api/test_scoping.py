"""Nobody sees a grid that is not theirs: every API route, as a user of another grid, leaks nothing.

The route list is read from the application itself, so a route added later is checked too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from api.auth import Principal, hash_password, key_digest
from api.schemas import feed_json
from api.site import DEMO_PASSWORD
from models.store import Store, UserRecord
from tests.rig import Rig, crowd_output, demo_rig

GRID_A = "379901001001001"  # where the incident happens (left half of the picture)
#: Streams that never end; their scoping is asserted separately below.
STREAMS = {"/api/stream", "/api/v1/stream"}
METHODS = ("get", "put", "post", "delete", "patch")


def api_operations(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every /api/ operation, from the app's own OpenAPI document (every router in it)."""
    paths = app.openapi()["paths"]
    return [
        (method.upper(), path)
        for path, item in sorted(paths.items())
        if path.startswith("/api/")
        for method in METHODS
        if method in item
    ]


@pytest.fixture
async def world(store: Store) -> AsyncIterator[tuple[Rig, httpx.AsyncClient, dict[str, str]]]:
    rig = await demo_rig(store)
    client = await rig.client()
    result = await rig.report(crowd_output(100))
    assert result is not None
    incident_id = str(result[0])
    tokens = {}
    for user in ("command", "w001", "w003", "w007"):
        r = await client.post("/api/auth/token", json={"username": user, "password": DEMO_PASSWORD})
        tokens[user] = r.json()["access_token"]
    a = {"Authorization": f"Bearer {tokens['w001']}"}
    detail = (await client.get(f"/api/incidents/{incident_id}", headers=a)).json()
    photo = await client.post(
        f"/api/incidents/{incident_id}/attachments",
        content=b"\xff\xd8 a photo",
        headers={**a, "Content-Type": "image/jpeg"},
    )
    assert photo.status_code == 201, photo.text
    ids = {
        "incident_id": incident_id,
        "evidence_id": detail["events"][0]["evidence"][0]["id"],
        "attachment_id": photo.json()["id"],
        "camera_id": "cam-dongguan-road",
        **{f"token:{u}": t for u, t in tokens.items()},
    }
    yield rig, client, ids
    await client.aclose()
    await rig.stop()


async def test_every_route_hides_grid_a_from_other_grids(
    world: tuple[Rig, httpx.AsyncClient, dict[str, str]],
) -> None:
    rig, client, ids = world
    operations = api_operations(rig.app)
    assert len(operations) >= 14
    secrets_of_a = [ids["incident_id"], ids["evidence_id"], ids["attachment_id"], GRID_A]
    checked = 0
    for method, route_path in operations:
        if route_path in STREAMS or route_path.startswith(("/api/auth/", "/api/v1/auth/")):
            continue
        # w003 (grid …002) for incident objects; w007 (西关 market grid) for the camera, which sees
        # 东关一/二/三网格 only.
        user = "w007" if "{camera_id}" in route_path else "w003"
        path = route_path
        for name in ("incident_id", "evidence_id", "attachment_id", "camera_id"):
            path = path.replace("{" + name + "}", ids[name])
        headers = {"Authorization": f"Bearer {ids['token:' + user]}"}
        body = {"action": "accept"} if method == "POST" else None
        response = await client.request(method, path, json=body, headers=headers)
        if "{" in route_path:
            assert response.status_code in (403, 404), (method, route_path, response.status_code)
        else:
            assert response.status_code in (200, 403), (method, route_path, response.status_code)
        # An id the caller sent may be echoed back in "no incident …"; anything else is a leak.
        leaked = [s for s in secrets_of_a if s in response.text and s not in path]
        assert not leaked, (
            method,
            route_path,
            response.text[:300],
        )
        checked += 1
    assert checked >= 9


async def test_owner_and_county_do_see_it(world: tuple[Rig, httpx.AsyncClient, dict[str, str]]) -> None:
    _, client, ids = world
    for user in ("w001", "command"):
        headers = {"Authorization": f"Bearer {ids['token:' + user]}"}
        assert (await client.get(f"/api/incidents/{ids['incident_id']}", headers=headers)).status_code == 200
        assert (await client.get(f"/api/evidence/{ids['evidence_id']}", headers=headers)).status_code == 200
        listed = (await client.get("/api/incidents", headers=headers)).json()
        assert [i["id"] for i in listed["items"]] == [ids["incident_id"]]


async def test_live_feed_filter_follows_scope(
    world: tuple[Rig, httpx.AsyncClient, dict[str, str]],
) -> None:
    rig, _, _ids = world
    async with rig.centre.broadcaster.subscribe() as queue:
        await rig.centre.relay.deliver_pending()
        message = feed_json(queue.get_nowait())
    unit = message["incident"]["place"]["unit_code"]
    assert Principal("w001", "grid_worker", GRID_A).sees(unit)
    assert not Principal("w003", "grid_worker", "379901001001002").sees(unit)


async def test_signed_out_callers_get_401(world: tuple[Rig, httpx.AsyncClient, dict[str, str]]) -> None:
    _, client, ids = world
    assert client.cookies.get("gw_access"), "signing in sets the pages' cookie"
    client.cookies.clear()
    for path in (
        "/api/incidents",
        f"/api/incidents/{ids['incident_id']}",
        "/api/cameras",
        "/api/grids",
        "/metrics",
    ):
        assert (await client.get(path)).status_code == 401, path
    assert (await client.get("/api/health")).status_code == 200
    wrong = await client.post("/api/auth/token", json={"username": "w001", "password": "nope"})
    unknown = await client.post("/api/auth/token", json={"username": "nobody", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_evidence_views_are_audited_with_who_and_why(
    world: tuple[Rig, httpx.AsyncClient, dict[str, str]],
) -> None:
    rig, client, ids = world
    headers = {"Authorization": f"Bearer {ids['token:command']}"}
    r = await client.get(
        f"/api/evidence/{ids['evidence_id']}", params={"reason": "核查聚集"}, headers=headers
    )
    assert r.status_code == 200
    [entry] = await rig.store.audit.entries("evidence")
    assert (entry.actor, entry.object_id, entry.reason) == (
        "command",
        ids["evidence_id"],
        "核查聚集",
    )


async def test_api_keys_are_scoped_like_users(
    world: tuple[Rig, httpx.AsyncClient, dict[str, str]],
) -> None:
    rig, client, _ids = world
    users = rig.store.users
    await users.add_api_key("k1", "grid-b-bot", key_digest("gwk_b"), "grid_worker", "379901001001002")
    await users.add_api_key("k2", "county-bot", key_digest("gwk_c"), "county_command", "379901")
    b = (await client.get("/api/incidents", headers={"X-API-Key": "gwk_b"})).json()
    c = (await client.get("/api/incidents", headers={"X-API-Key": "gwk_c"})).json()
    assert (b["total"], c["total"]) == (0, 1)
    assert (await client.get("/api/incidents", headers={"X-API-Key": "gwk_wrong"})).status_code == 401


async def test_refresh_rotates_and_a_spent_token_is_refused(
    world: tuple[Rig, httpx.AsyncClient, dict[str, str]],
) -> None:
    _, client, _ = world
    first = (
        await client.post("/api/auth/token", json={"username": "w003", "password": DEMO_PASSWORD})
    ).json()
    again = await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 200 and again.json()["refresh_token"] != first["refresh_token"]
    replay = await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401


async def test_disabled_user_cannot_sign_in(world: tuple[Rig, httpx.AsyncClient, dict[str, str]]) -> None:
    rig, client, _ = world
    await rig.store.users.upsert(
        UserRecord("gone", "Gone", hash_password("long enough pw"), "grid_worker", GRID_A, None, True)
    )
    r = await client.post("/api/auth/token", json={"username": "gone", "password": "long enough pw"})
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("headers", "content", "status"),
    [
        ({"Content-Type": "image/jpeg"}, b"\xff\xd8" + b"x" * (1 << 20), 413),
        ({"Content-Type": "text/plain"}, b"hello", 415),
        ({"Content-Type": "image/png"}, b"\xff\xd8 not a png", 422),
    ],
)
async def test_bad_uploads_are_refused(
    world: tuple[Rig, httpx.AsyncClient, dict[str, str]],
    headers: dict[str, str],
    content: bytes,
    status: int,
) -> None:
    _, client, ids = world
    auth = {"Authorization": f"Bearer {ids['token:w001']}"}
    r = await client.post(
        f"/api/incidents/{ids['incident_id']}/attachments", content=content, headers={**auth, **headers}
    )
    assert r.status_code == status, r.text
    assert r.json()["detail"]
