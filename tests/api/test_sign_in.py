"""Sign-in hardening (issue 15): failed sign-ins lock an account or an address for the stated time, a user
lists and ends their sessions, logout and a password change revoke refresh tokens, admins end a user's
sessions. The app over a real PostgreSQL (the store fixture), through HTTP."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx

from api.auth import AuthConfig
from api.site import DEMO_PASSWORD
from models.clock import ManualClock
from models.config import SignInSection
from models.store import Store
from tests.rig import T0, Rig, build_rig, demo_rig

LOCKED_UNTIL = re.compile(r"locked until (\S+Z)")


def _auth(**policy: float) -> AuthConfig:
    return replace(AuthConfig.for_demo(), sign_in=SignInSection(**policy))  # type: ignore[arg-type]


async def _sign_in(
    client: httpx.AsyncClient, user: str, password: str = DEMO_PASSWORD, agent: str = "test"
) -> httpx.Response:
    return await client.post(
        "/api/auth/token", json={"username": user, "password": password}, headers={"User-Agent": agent}
    )


def _bearer(response: httpx.Response) -> dict[str, str]:
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _actions(store: Store, action: str) -> list[tuple[str, str, str]]:
    return [
        (e.actor, e.object_id, e.reason) for e in await store.audit.entries(limit=500) if e.action == action
    ]


async def test_twenty_wrong_passwords_lock_the_account_for_the_stated_time(store: Store) -> None:
    rig = await demo_rig(store, auth=_auth(max_failures=20, window_minutes=15, lockout_minutes=15))
    client = await rig.client()
    before = datetime.now(UTC)
    statuses = [(await _sign_in(client, "w001", "wrong password")).status_code for _ in range(20)]
    after = datetime.now(UTC)
    assert statuses == [401] * 19 + [423]
    # During the lock the right password is refused too, with the same message: locked, and until when.
    refused = await _sign_in(client, "w001")
    assert refused.status_code == 423, refused.text
    message = refused.json()["detail"]
    assert "account locked until" in message and "after 20 failed sign-ins within 15 minutes" in message
    match = LOCKED_UNTIL.search(message)
    assert match is not None
    until = datetime.fromisoformat(match.group(1).replace("Z", "+00:00"))
    assert before + timedelta(minutes=15) - timedelta(seconds=1) <= until <= after + timedelta(minutes=15)
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60 + 1
    # Only that account: another user from the same address signs in.
    assert (await _sign_in(client, "w002")).status_code == 200
    locked = await _actions(store, "sign_in_locked")
    assert len(locked) == 1 and locked[0][:2] == ("w001", "w001")
    assert "20 failed sign-ins within 15 minutes: locked until" in locked[0][2]
    assert [actor for actor, _, _ in await _actions(store, "sign_in_refused")] == ["w001"]
    # In the database, not in the process: a second app over the same store refuses it as well.
    second = await build_rig(store, ManualClock(T0), auth=_auth(max_failures=20))
    assert (await _sign_in(await second.client(), "w001")).status_code == 423
    await second.stop()
    await rig.stop()


async def test_concurrent_failures_lock_once(store: Store) -> None:
    # Failures counted one after the other in the database: none slips past the limit, one lock results.
    rig = await demo_rig(store, auth=_auth(max_failures=10))
    client = await rig.client()
    responses = await asyncio.gather(*(_sign_in(client, "w001", f"guess {i}") for i in range(16)))
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) == {401, 423}
    assert len(await _actions(store, "sign_in_locked")) == 1
    assert (await _sign_in(client, "w001")).status_code == 423
    await rig.stop()
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    window, lockout = timedelta(minutes=15), timedelta(minutes=15)
    locks = await asyncio.gather(
        *(store.sign_in.fail("user", "y", t0, window=window, limit=10, lockout=lockout) for _ in range(10))
    )
    assert len([lock for lock in locks if lock is not None]) == 1


async def test_the_lock_ends_after_the_stated_time_and_an_admin_may_lift_it(store: Store) -> None:
    rig = await demo_rig(store, auth=_auth(max_failures=3, lockout_minutes=2 / 60))  # two seconds
    client = await rig.client()
    assert [(await _sign_in(client, "w001", "nope")).status_code for _ in range(3)] == [401, 401, 423]
    assert (await _sign_in(client, "w001")).status_code == 423
    await asyncio.sleep(2.5)
    assert (await _sign_in(client, "w001")).status_code == 200
    # Locked again, lifted by an admin before it ends.
    assert [(await _sign_in(client, "w002", "nope")).status_code for _ in range(3)] == [401, 401, 423]
    admin = _bearer(await _sign_in(client, "admin"))
    worker = _bearer(await _sign_in(client, "w001"))
    assert (await client.delete("/api/auth/users/w002/lock", headers=worker)).status_code == 403
    assert (await client.delete("/api/auth/users/w002/lock", headers=admin)).status_code == 200
    assert (await client.delete("/api/auth/users/w002/lock", headers=admin)).status_code == 404
    assert (await _sign_in(client, "w002")).status_code == 200
    assert [obj for _, obj, _ in await _actions(store, "sign_in_unlocked")] == ["w002"]
    await rig.stop()


async def test_an_unknown_name_locks_as_a_known_one_would(store: Store) -> None:
    # Otherwise a lock would tell an attacker which names exist. The typed name is kept as a digest only.
    rig = await demo_rig(store, auth=_auth(max_failures=3))
    client = await rig.client()
    known = [await _sign_in(client, "w001", "nope") for _ in range(3)]
    unknown = [await _sign_in(client, "mypassword123", "nope") for _ in range(3)]
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [401, 401, 423]
    assert LOCKED_UNTIL.sub("", known[-1].json()["detail"]) == LOCKED_UNTIL.sub(
        "", unknown[-1].json()["detail"]
    )
    locked = await _actions(store, "sign_in_locked")
    assert [(actor, obj.startswith("sha256:")) for actor, obj, _ in locked] == [
        ("(unknown)", True),
        ("w001", False),
    ]
    assert all(
        "mypassword123" not in f"{e.object_id} {e.reason}" for e in await store.audit.entries(limit=500)
    )
    await rig.stop()


async def test_a_good_sign_in_clears_the_count_and_old_failures_leave_the_window(store: Store) -> None:
    rig = await demo_rig(store, auth=_auth(max_failures=5))
    client = await rig.client()
    assert {(await _sign_in(client, "w001", "nope")).status_code for _ in range(4)} == {401}
    assert (await _sign_in(client, "w001")).status_code == 200
    assert {(await _sign_in(client, "w001", "nope")).status_code for _ in range(4)} == {401}
    await rig.stop()
    # The window, with the time given: failures older than it no longer count.
    t0, window, lockout = datetime(2026, 12, 1, tzinfo=UTC), timedelta(minutes=15), timedelta(minutes=15)
    for minute in range(4):
        assert (
            await store.sign_in.fail(
                "user", "x", t0 + timedelta(minutes=minute), window=window, limit=5, lockout=lockout
            )
            is None
        )
    late = t0 + timedelta(minutes=15, seconds=30)  # the first failure has left the window: 4 in it
    assert await store.sign_in.fail("user", "x", late, window=window, limit=5, lockout=lockout) is None
    lock = await store.sign_in.fail("user", "x", late, window=window, limit=5, lockout=lockout)
    assert lock is not None and lock.locked_until == late + lockout and lock.failures == 5
    assert await store.sign_in.lock("user", "x", late + lockout - timedelta(seconds=1)) is not None
    assert await store.sign_in.lock("user", "x", late + lockout) is None


async def test_many_failures_from_one_address_lock_the_address(store: Store) -> None:
    rig = await demo_rig(store, auth=_auth(max_failures=20, max_failures_per_address=6))
    client = await rig.client()
    names = [f"nobody{i}" for i in range(5)] + ["w001"]
    assert [(await _sign_in(client, name, "nope")).status_code for name in names] == [401] * 5 + [429]
    refused = await _sign_in(client, "command")
    assert refused.status_code == 429 and "from this address: locked until" in refused.json()["detail"]
    locked = await _actions(store, "sign_in_locked")
    assert [obj for _, obj, _ in locked] == ["127.0.0.1"]
    entry = [e for e in await store.audit.entries("address") if e.action == "sign_in_locked"]
    assert len(entry) == 1
    await rig.stop()


async def _two_sessions(rig: Rig) -> tuple[httpx.AsyncClient, httpx.Response, httpx.Response]:
    client = await rig.client()
    phone = await _sign_in(client, "w001", agent="Phone/1.0")
    desk = await _sign_in(client, "w001", agent="Desk/2.0")
    assert phone.status_code == desk.status_code == 200
    return client, phone, desk


async def _refresh(client: httpx.AsyncClient, response: httpx.Response) -> int:
    r = await client.post("/api/auth/refresh", json={"refresh_token": response.json()["refresh_token"]})
    return r.status_code


async def test_a_user_lists_and_ends_their_sessions(store: Store) -> None:
    rig = await demo_rig(store)
    client, phone, desk = await _two_sessions(rig)
    listed = await client.get("/api/auth/sessions", headers=_bearer(desk))
    assert listed.status_code == 200
    sessions = listed.json()["sessions"]
    assert [s["user_agent"] for s in sessions] == ["Desk/2.0", "Phone/1.0"]
    assert [s["current"] for s in sessions] == [True, False]
    assert {s["client"] for s in sessions} == {"127.0.0.1"}
    assert all(s["created_at"] <= s["last_used_at"] < s["expires_at"] for s in sessions)
    phone_id = sessions[1]["id"]
    # Another user cannot end it (nor see it).
    other = _bearer(await _sign_in(client, "w002"))
    assert (await client.delete(f"/api/auth/sessions/{phone_id}", headers=other)).status_code == 404
    assert (await client.get("/api/auth/me", headers=_bearer(phone))).status_code == 200
    ended = await client.delete(f"/api/auth/sessions/{phone_id}", headers=_bearer(desk))
    assert ended.status_code == 200 and ended.json() == {"ended": [phone_id]}
    # The phone's access token is refused at once, its refresh token too; the desk goes on.
    gone = await client.get("/api/auth/me", headers=_bearer(phone))
    assert gone.status_code == 401 and "session ended" in gone.json()["detail"]
    assert await _refresh(client, phone) == 401
    assert (await client.get("/api/auth/me", headers=_bearer(desk))).status_code == 200
    assert await _refresh(client, desk) == 200
    listed = (await client.get("/api/auth/sessions", headers=_bearer(desk))).json()["sessions"]
    assert [s["user_agent"] for s in listed] == ["Desk/2.0"]
    assert ("w001", "w001", f"session {phone_id}") in await _actions(store, "session_ended")
    await rig.stop()


async def test_logout_revokes_the_session_refresh_tokens(store: Store) -> None:
    rig = await demo_rig(store)
    client, phone, desk = await _two_sessions(rig)
    assert (await client.post("/api/auth/logout", headers=_bearer(phone))).status_code == 200
    assert await _refresh(client, phone) == 401
    assert (await client.get("/api/auth/me", headers=_bearer(phone))).status_code == 401
    # Signing out on the phone leaves the desk signed in.
    assert await _refresh(client, desk) == 200
    await rig.stop()


async def test_a_password_change_ends_every_session(store: Store) -> None:
    rig = await demo_rig(store)
    client, phone, desk = await _two_sessions(rig)
    wrong = await client.post(
        "/api/auth/password",
        json={"current_password": "not it", "new_password": "a new long password"},
        headers=_bearer(desk),
    )
    assert wrong.status_code == 403 and await _refresh(client, phone) == 200
    short = await client.post(
        "/api/auth/password",
        json={"current_password": DEMO_PASSWORD, "new_password": "short"},
        headers=_bearer(desk),
    )
    assert short.status_code == 422
    changed = await client.post(
        "/api/auth/password",
        json={"current_password": DEMO_PASSWORD, "new_password": "a new long password"},
        headers=_bearer(desk),
    )
    assert changed.status_code == 200, changed.text
    for response in (phone, desk):
        assert (await client.get("/api/auth/me", headers=_bearer(response))).status_code == 401
    assert await _refresh(client, desk) == 401
    assert (await _sign_in(client, "w001")).status_code == 401
    assert (await _sign_in(client, "w001", "a new long password")).status_code == 200
    assert [obj for _, obj, _ in await _actions(store, "password_changed")] == ["w001"]
    await rig.stop()


async def test_guessing_through_the_password_change_locks_the_account(store: Store) -> None:
    rig = await demo_rig(store, auth=_auth(max_failures=3, max_failures_per_address=3))
    client = await rig.client()
    token = _bearer(await _sign_in(client, "w001"))

    async def change(current: str) -> int:
        body = {"current_password": current, "new_password": "a new long password"}
        return (await client.post("/api/auth/password", json=body, headers=token)).status_code

    assert [await change(f"guess {i}") for i in range(3)] == [403, 403, 423]
    assert await change(DEMO_PASSWORD) == 423
    assert (await _sign_in(client, "w001")).status_code == 423
    # The account, not the address: another user there still signs in.
    assert (await _sign_in(client, "w002")).status_code == 200
    await rig.stop()


async def test_an_admin_lists_and_ends_a_users_sessions(store: Store) -> None:
    rig = await demo_rig(store)
    client, phone, desk = await _two_sessions(rig)
    admin = _bearer(await _sign_in(client, "admin"))
    command = _bearer(await _sign_in(client, "command"))
    assert (await client.get("/api/auth/users/w001/sessions", headers=command)).status_code == 403
    assert (await client.delete("/api/auth/users/w001/sessions", headers=command)).status_code == 403
    listed = await client.get("/api/auth/users/w001/sessions", headers=admin)
    assert [s["user_agent"] for s in listed.json()["sessions"]] == ["Desk/2.0", "Phone/1.0"]
    ended = await client.delete("/api/auth/users/w001/sessions", headers=admin)
    assert ended.status_code == 200 and len(ended.json()["ended"]) == 2
    for response in (phone, desk):
        assert (await client.get("/api/auth/me", headers=_bearer(response))).status_code == 401
        assert await _refresh(client, response) == 401
    assert (await client.delete("/api/auth/users/nobody/sessions", headers=admin)).status_code == 404
    assert [(a, o) for a, o, _ in await _actions(store, "sessions_ended")] == [("admin", "w001")]
    await rig.stop()


async def test_sessions_long_over_are_dropped_when_the_user_signs_in_again(store: Store) -> None:
    rig = await demo_rig(store)
    t0 = datetime(2026, 10, 1, tzinfo=UTC)
    await store.sign_in.open_session("old", "w001", "Old/1", "10.0.0.1", t0, t0 + timedelta(hours=12))
    await store.sign_in.open_session("recent", "w001", "Old/2", "10.0.0.1", t0, datetime.now(UTC))
    await store.sign_in.end_sessions("w001", datetime.now(UTC), "test", "recent")
    assert (await _sign_in(await rig.client(), "w001")).status_code == 200
    kept = {r["id"] for r in await store.pool.fetch("SELECT id FROM sessions WHERE username = 'w001'")}
    assert "old" not in kept and "recent" in kept and len(kept) == 2
    await rig.stop()
