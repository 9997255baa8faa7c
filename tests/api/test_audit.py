"""The audit trail of a running service, and ``gridwatch audit verify`` over it as an auditor runs it.

The service is built by api.wiring.build_system and served by uvicorn (tests/servers.in_process_api),
the demo county in its own database; the CLI runs as a subprocess against that database.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from dataclasses import astuple
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import HTTPException

from api.deps import CurrentPrincipal
from api.site import DEMO_PASSWORD
from models.clock import ManualClock
from models.db import Database
from models.store import Store
from tests.conftest import DEMO_DIR, _with_database
from tests.rig import T0, NoDetector, crowd_output, demo_rig
from tests.servers import InProcessApi, in_process_api, run_cli, wait_for

DB_NAME = "gw_audit_live"


@pytest.fixture
def api(postgres: Database) -> Iterator[InProcessApi]:
    with in_process_api(
        postgres.url,
        DB_NAME,
        detector=NoDetector(),
        clock=ManualClock(T0),
        camera_source="unused.avi",
        start_cameras=False,
    ) as running:
        yield running


def verify_cli(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # The caller's environment says where the database is, not the test runner's.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    return run_cli("audit", "verify", env={**inherited, "NO_COLOR": "1", "COLUMNS": "300", **env})


def _client(base: str, user: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=20)
    r = client.post("/api/auth/token", json={"username": user, "password": DEMO_PASSWORD})
    assert r.status_code == 200, r.text
    client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return client


def _traffic(api: InProcessApi) -> str:
    """What a morning brings: a failed and good sign-ins, an incident viewed, its evidence looked at, the
    case taken through the loop, a camera removed from the registry, a sign-out. The incident's id."""
    refused = httpx.post(
        f"{api.base}/api/auth/token", json={"username": "w001", "password": "guess"}, timeout=20
    )
    assert refused.status_code == 401
    worker, command, admin = (_client(api.base, u) for u in ("w001", "command", "admin"))
    api.call(lambda system: system.link.publish(crowd_output(100)))
    listed = wait_for(lambda: command.get("/api/incidents").json()["items"], timeout_s=20, interval_s=0.2)
    assert listed, "the reported crowd never became an incident"
    incident_id = str(listed[0]["id"])
    detail = command.get(f"/api/incidents/{incident_id}").json()
    evidence_url = detail["events"][0]["evidence"][0]["url"]
    assert command.get(evidence_url).status_code == 200
    for client, action in ((worker, "accept"), (worker, "start"), (worker, "resolve"), (command, "verify")):
        r = client.post(f"/api/incidents/{incident_id}/transitions", json={"action": action, "note": "ok"})
        assert r.status_code == 200, r.text
    assert worker.get(f"/api/incidents/{incident_id}").status_code == 200
    assert admin.delete("/api/registry/cameras/cam-dongguan-road").status_code == 204
    assert worker.post("/api/auth/logout").status_code == 200
    for client in (worker, command, admin):
        client.close()
    return incident_id


async def _fetch(url: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(query))
    finally:
        await conn.close()


async def _superuser(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def test_verify_passes_after_real_traffic_and_names_a_superusers_edit(
    api: InProcessApi, postgres: Database
) -> None:
    url = _with_database(postgres.url, DB_NAME)
    incident_id = _traffic(api)

    trail = asyncio.run(_fetch(url, "SELECT id, actor, action, object_type, object_id FROM audit_log"))
    done = {(r["actor"], r["action"], r["object_type"]) for r in trail}
    for expected in (
        ("serve", "apply", "site"),
        ("w001", "sign_in_failed", "user"),
        ("w001", "sign_in", "user"),
        ("command", "view", "incident"),
        ("command", "view", "evidence"),
        ("w001", "view", "incident"),
        ("admin", "remove", "camera"),
        ("w001", "sign_out", "user"),
    ):
        assert expected in done, f"{expected} not audited: {sorted(done)}"
    steps = asyncio.run(
        _fetch(url, f"SELECT action, actor FROM incident_log WHERE incident_id = '{incident_id}' ORDER BY id")
    )
    assert [(r["action"], r["actor"]) for r in steps][-4:] == [
        ("accept", "w001"),
        ("start", "w001"),
        ("resolve", "w001"),
        ("verify", "command"),
    ]

    # While the service runs.
    intact = verify_cli({"GRIDWATCH_DATABASE_URL": url})
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert intact.stdout.startswith("audit chains intact: audit_log ")
    assert len(intact.stdout.splitlines()) == 1

    failed = next(r["id"] for r in trail if r["action"] == "sign_in_failed")
    resolve = asyncio.run(_fetch(url, "SELECT id FROM incident_log WHERE action = 'resolve'"))[0]["id"]
    asyncio.run(
        _superuser(
            url,
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
            f"UPDATE audit_log SET actor = 'forged' WHERE id = {failed}",
            "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only",
            "ALTER TABLE incident_log DISABLE TRIGGER incident_log_append_only",
            f"UPDATE incident_log SET actor = 'w002' WHERE id = {resolve}",
            "ALTER TABLE incident_log ENABLE TRIGGER incident_log_append_only",
        )
    )
    broken = verify_cli({"GRIDWATCH_DATABASE_URL": url})
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert broken.stdout.splitlines() == [
        f"audit chain broken: audit_log row {failed}: its content does not match its hash: edited",
        f"audit chain broken: incident_log row {resolve}: its content does not match its hash: edited",
    ]


def test_the_services_own_connection_cannot_forge_the_trail(api: InProcessApi) -> None:
    """Finding of 2026-12-04: ``UPDATE audit_log SET actor='forged'`` succeeded; now through the running
    service's own pool it is refused, and so is DELETE."""
    _traffic(api)

    async def forge(statement: str) -> str:
        store = api.system.centre.store
        try:
            await store.pool.execute(statement)
        except asyncpg.InsufficientPrivilegeError as exc:
            return str(exc)
        return "accepted"

    for statement in (
        "UPDATE audit_log SET actor = 'forged'",
        "DELETE FROM audit_log",
        "DELETE FROM incident_log",
    ):
        assert "permission denied" in api.call(lambda _, s=statement: forge(s))


def test_verify_without_a_database_exits_2_with_one_line(tmp_path: Path, postgres: Database) -> None:
    empty = tmp_path / "nothing-here"
    env = {"GRIDWATCH_DATA_DIR": str(empty)}
    missing = verify_cli(env)
    assert missing.returncode == 2
    assert missing.stderr.splitlines() == [
        f"error: no database in {empty / 'pg'}: set GRIDWATCH_DATABASE_URL, or pass --data-dir (or --demo) "
        "where serve or demo keeps it"
    ]
    assert not (empty / "pg" / "PG_VERSION").exists(), "verify must not create a database to call intact"

    absent = verify_cli({"GRIDWATCH_DATABASE_URL": _with_database(postgres.url, "gw_audit_no_such_db")})
    assert absent.returncode == 2
    [line] = absent.stderr.splitlines()
    assert line.startswith("error: cannot read the audit chains of ") and "gw_audit_no_such_db" in line


async def test_sign_ins_are_audited_without_a_typed_secret(store: Store) -> None:
    rig = await demo_rig(store)
    client = await rig.client()
    try:
        for username, password in (("w001", "wrong"), ("my-Secret-passw0rd", "x"), ("w001", DEMO_PASSWORD)):
            await client.post("/api/auth/token", json={"username": username, "password": password})
    finally:
        await client.aclose()
        await rig.stop()
    signins = [e for e in reversed(await store.audit.entries("user")) if e.action.startswith("sign_in")]
    assert [(e.actor, e.action, e.reason) for e in signins] == [
        ("w001", "sign_in_failed", "wrong password"),
        ("(unknown)", "sign_in_failed", "unknown user name"),
        ("w001", "sign_in", ""),
    ]
    assert signins[1].object_id.startswith("sha256:")
    assert not any("Secret" in str(value) for e in await store.audit.entries() for value in astuple(e))


def test_command_line_changes_are_audited(db_url: str) -> None:
    env = {"GRIDWATCH_DATABASE_URL": db_url, "GRIDWATCH_NEW_PASSWORD": "a long admin password"}
    for args in (
        ("import-grids", str(DEMO_DIR / "grids.geojson")),
        ("import-roster", str(DEMO_DIR / "roster.csv")),
        ("user", "add", "ops", "--role", "admin"),
    ):
        done = run_cli(*args, env={**os.environ, **env})
        assert done.returncode == 0, done.stderr
    trail = asyncio.run(
        _fetch(db_url, "SELECT actor, action, object_type, object_id FROM audit_log ORDER BY id")
    )
    assert [(r["action"], r["object_type"], r["object_id"]) for r in trail] == [
        ("import", "grids", "grids.geojson"),
        ("import", "roster", "roster.csv"),
        ("upsert", "user", "ops"),
    ]
    assert all(r["actor"].startswith("cli:") for r in trail)
    intact = verify_cli({"GRIDWATCH_DATABASE_URL": db_url})
    assert intact.returncode == 0 and "audit_log 3 rows" in intact.stdout, intact.stdout + intact.stderr


async def test_a_change_through_any_route_is_audited_once(store: Store) -> None:
    """Routes without a record of their own (a roster or configuration resource added later, say) are
    audited by the app; routes with one (steps, the registry, sign-ins) are not recorded twice."""
    rig = await demo_rig(store)

    @rig.app.put("/api/later-resource/{item}")
    async def later_resource(item: str, principal: CurrentPrincipal) -> dict[str, str]:
        return {"item": item, "by": principal.name}

    @rig.app.delete("/api/later-resource/{item}")
    async def refused_change(item: str, principal: CurrentPrincipal) -> None:
        raise HTTPException(409, "refused")

    worker = await rig.client("w001")
    try:
        assert (await worker.put("/api/later-resource/r1")).status_code == 200
        assert (await worker.delete("/api/later-resource/r1")).status_code == 409
        result = await rig.report(crowd_output(100))
        assert result is not None
        step = await worker.post(f"/api/incidents/{result[0]}/transitions", json={"action": "accept"})
        assert step.status_code == 200, step.text
        assert (await worker.post("/api/auth/logout")).status_code == 200
    finally:
        await worker.aclose()
        await rig.stop()
    requests = [(e.actor, e.action, e.object_id, e.reason) for e in await store.audit.entries("request")]
    assert requests == [("w001", "PUT /api/later-resource/{item}", "/api/later-resource/r1", "200")]
    assert [e.action for e in reversed(await store.audit.entries("user"))] == ["sign_in", "sign_out"]
