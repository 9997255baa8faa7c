"""/api/v1 and the unversioned paths of 0.1; signing in with the OAuth2 password form (/docs "Authorize")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.utils import parsedate_to_datetime

import pytest

from api.site import DEMO_PASSWORD
from api.versioning import SUNSET, _v1_location
from models.store import Store
from tests.rig import Rig, crowd_output, demo_rig

FORM = {"grant_type": "password", "username": "command", "password": DEMO_PASSWORD}


@pytest.fixture
async def rig(store: Store) -> AsyncIterator[Rig]:
    built = await demo_rig(store)
    yield built
    await built.stop()


async def test_the_oauth2_password_form_signs_in_and_its_token_opens_the_api(rig: Rig) -> None:
    client = await rig.client()
    # What Swagger UI's "Authorize" dialog posts: the form, with an empty scope and no client id.
    r = await client.post("/api/v1/auth/token", data={**FORM, "scope": ""})
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "bearer" and r.json()["user"]["name"] == "command"
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert me.json()["role"] == "county_command"


@pytest.mark.parametrize(
    ("form", "status", "says"),
    [
        ({**FORM, "password": "wrong"}, 401, "wrong user name or password"),
        ({"username": "command", "password": DEMO_PASSWORD}, 422, "grant_type: must be 'password'"),
        ({**FORM, "grant_type": "client_credentials"}, 422, "grant_type: must be 'password'"),
        ({**FORM, "role": "admin"}, 422, "role: unknown field"),
        ({"grant_type": "password", "username": "command"}, 422, "password: Field required"),
        ({**FORM, "username": ""}, 422, "username: String should have at least 1 character"),
    ],
)
async def test_a_bad_form_is_refused_with_its_reason(
    rig: Rig, form: dict[str, str], status: int, says: str
) -> None:
    client = await rig.client()
    r = await client.post("/api/v1/auth/token", data=form)
    assert r.status_code == status, r.text
    assert says in str(r.json()["detail"])
    assert "access_token" not in r.text


async def test_json_sign_in_keeps_refusing_unknown_fields_and_other_media(rig: Rig) -> None:
    client = await rig.client()
    extra = await client.post(
        "/api/v1/auth/token", json={"username": "command", "password": "x", "admin": True}
    )
    assert extra.status_code == 422 and "admin: Extra inputs are not permitted" in str(extra.json()["detail"])
    text = await client.post("/api/v1/auth/token", content=b"command", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415 and "x-www-form-urlencoded" in text.json()["detail"]
    broken = await client.post(
        "/api/v1/auth/token", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422 and broken.json()["detail"] == [{"reason": "the body is not JSON"}]


async def test_v1_serves_every_route_and_the_old_paths_answer_alike_but_deprecated(rig: Rig) -> None:
    await rig.report(crowd_output(100))
    client = await rig.client("command")
    new = await client.get("/api/v1/incidents")
    old = await client.get("/api/incidents")
    assert new.status_code == old.status_code == 200
    assert new.json() == old.json() and new.json()["total"] == 1
    assert "deprecation" not in new.headers and "sunset" not in new.headers
    assert old.headers["deprecation"].startswith("@")
    assert parsedate_to_datetime(old.headers["sunset"]) == SUNSET
    assert old.headers["link"] == '</api/v1/incidents>; rel="successor-version"'
    # A step taken on the v1 path lands in the same incident log as the old path's.
    incident = new.json()["items"][0]["id"]
    detail = await client.get(f"/api/v1/incidents/{incident}")
    assert detail.status_code == 200 and detail.json()["id"] == incident
    assert (await client.get("/api/v1/nothing-here")).status_code == 404
    # A redirect the app writes sends a v1 caller on within v1.
    slash = await client.get("/api/v1/incidents/")
    assert slash.status_code == 307 and slash.headers["location"] == "http://gridwatch/api/v1/incidents"
    # Pages, the spec and the docs are not versioned.
    assert "deprecation" not in (await client.get("/openapi.json")).headers


@pytest.mark.parametrize(
    ("location", "within_v1"),
    [
        (b"/api/whep/abc", b"/api/v1/whep/abc"),
        (b"http://gridwatch/api/incidents", b"http://gridwatch/api/v1/incidents"),
        (b"/api/v1/whep/abc", b"/api/v1/whep/abc"),
        (b"/static/app.js", b"/static/app.js"),
        (b"https://example.org/apis/x", b"https://example.org/apis/x"),
    ],
)
def test_locations_written_for_a_v1_caller_stay_within_v1(location: bytes, within_v1: bytes) -> None:
    assert _v1_location(location) == within_v1
