"""Acceptance 7 of issue 12 on the README's demo: ``gridwatch audit verify`` passes while ``gridwatch demo``
runs and has been used (sign-ins, a detected incident viewed with its evidence, steps taken); after the
database superuser edits one row behind the triggers, it names that row."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from api.site import DEMO_PASSWORD
from models.db import open_database
from tests.servers import free_port, run_cli, running_cli, wait_for

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if k not in ("GRIDWATCH_MODEL_DIRS", "GRIDWATCH_DATABASE_URL")
    }


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    args = ["demo", "--port", str(port), "--data-dir", str(tmp_path)]
    with running_cli(args, env=_env(), log_path=tmp_path / "demo.log", port=port) as base:
        yield base


def _headers(base: str, user: str) -> dict[str, str]:
    r = httpx.post(f"{base}/api/auth/token", json={"username": user, "password": DEMO_PASSWORD}, timeout=10)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _verify(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return run_cli("audit", "verify", "--demo", "--data-dir", str(data_dir), env={**_env(), "NO_COLOR": "1"})


async def _edit_behind_the_trigger(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        row_id: int = await conn.fetchval("SELECT min(id) FROM audit_log WHERE action = 'sign_in'")
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        await conn.execute("UPDATE audit_log SET client = '10.0.0.9' WHERE id = $1", row_id)
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
        return row_id
    finally:
        await conn.close()


def test_audit_verify_on_the_live_demo(demo: str, tmp_path: Path) -> None:
    command = _headers(demo, "command")
    assert (
        httpx.post(
            f"{demo}/api/auth/token", json={"username": "w001", "password": "x"}, timeout=10
        ).status_code
        == 401
    )
    page = wait_for(
        lambda: httpx.get(f"{demo}/api/incidents", headers=command, timeout=5).json()["items"], timeout_s=180
    )
    if not page:
        pytest.fail("the demo opened no incident in 180 s")
    incident = page[-1]
    worker = _headers(demo, incident["assignee"]["worker_id"])
    detail = httpx.get(f"{demo}/api/incidents/{incident['id']}", headers=worker, timeout=5).json()
    snapshot = detail["events"][0]["evidence"][0]["url"]
    assert httpx.get(f"{demo}{snapshot}", headers=worker, timeout=5).status_code == 200
    for action in ("accept", "start"):
        step = httpx.post(
            f"{demo}/api/incidents/{incident['id']}/transitions",
            json={"action": action},
            headers=worker,
            timeout=5,
        )
        assert step.status_code == 200, step.text

    intact = _verify(tmp_path)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    [line] = intact.stdout.splitlines()
    assert line.startswith("audit chains intact: audit_log ") and "incident_log 0 rows" not in line

    database = open_database(None, tmp_path / "demo")  # joins the demo's embedded server
    try:
        edited = asyncio.run(_edit_behind_the_trigger(database.url))
    finally:
        database.close()
    broken = _verify(tmp_path)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert broken.stdout.splitlines() == [
        f"audit chain broken: audit_log row {edited}: its content does not match its hash: edited"
    ]
