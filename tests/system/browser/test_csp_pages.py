"""The pages run under the Content-Security-Policy (issue 15): Chromium walks the sign-in page, the wall
(an incident picked), the KPI page and the worker's phone page (an incident accepted) and reports no
violation; an inline script and an on* handler injected as a control are blocked and reported."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from api.site import DEMO_PASSWORD
from models.db import Database
from models.store import Store
from tests.conftest import REPO, fresh_database
from tests.rig import crowd_output, demo_rig
from tests.servers import free_port, is_up, wait_for

pytestmark = pytest.mark.slow

CHECK = Path(__file__).with_name("csp_check.mjs")


@pytest.fixture
def service(postgres: Database) -> Iterator[tuple[str, str]]:
    """The demo county with one open crowd incident, served by uvicorn in a thread: (base URL, incident)."""
    port = free_port()
    box: dict[str, Any] = {}
    ready = threading.Event()

    async def main() -> None:
        async with fresh_database(postgres) as url:
            store = await Store.connect(url)
            rig = await demo_rig(store)
            opened = await rig.report(crowd_output(100))
            assert opened is not None
            box["incident"] = str(opened[0])
            server = uvicorn.Server(
                uvicorn.Config(rig.app, host="127.0.0.1", port=port, log_level="error", lifespan="off")
            )
            box["server"] = server
            ready.set()
            try:
                await server.serve()
            finally:
                await rig.stop()
                await store.close()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(120), "the demo county was not loaded"
    base = f"http://127.0.0.1:{port}"
    assert wait_for(lambda: is_up(base), 30)
    try:
        yield base, box["incident"]
    finally:
        box["server"].should_exit = True
        thread.join(30)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_no_page_violates_the_content_security_policy(service: tuple[str, str]) -> None:
    if not (REPO / "node_modules" / "playwright-core").is_dir():
        pytest.fail("playwright-core missing: run ./run setup")
    base, incident = service
    result = subprocess.run(
        ["node", str(CHECK), base + "/", DEMO_PASSWORD, incident],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["visited"] == ["/login", "/", "/kpis", "/login", "/worker"]
    assert seen["violations"] == []
    assert seen["errors"] == []
    # The control: the policy is enforced (neither ran) and its violations are heard (two reports).
    assert seen["control"] == {"inline_ran": False, "handler_ran": False, "reported": 2}
