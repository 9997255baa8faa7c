"""A real gridwatch API on loopback, in its own thread and event loop, for schema-driven fuzzing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import replace

import asyncpg
import httpx
import pytest
import uvicorn

from api.app import create_app
from api.auth import AuthConfig
from api.runner import DEMO_PASSWORD, demo_site, load_site, seed_demo_users
from api.service import Service
from models.clock import ManualClock
from models.db import Database
from models.store import Store
from tests.api.test_app import T0, NoDetector, crowd_output
from tests.conftest import _with_database
from tests.servers import free_port, wait_for

CASES: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if CASES:
        errors = sum(1 for c in CASES if c.startswith("5"))
        terminalreporter.write_line(
            f"schemathesis: {len(CASES)} cases run against the OpenAPI spec, {errors} server errors"
        )


@pytest.fixture(scope="module")
def api_base(postgres: Database) -> Iterator[str]:
    port = free_port()
    started = threading.Event()
    holder: dict[str, object] = {}

    async def main() -> None:
        admin = await asyncpg.connect(postgres.url)
        await admin.execute('DROP DATABASE IF EXISTS "gw_fuzz" WITH (FORCE)')
        await admin.execute('CREATE DATABASE "gw_fuzz"')
        await admin.close()
        store = await Store.connect(_with_database(postgres.url, "gw_fuzz"))
        site = demo_site()
        await load_site(store, replace(site, cameras=[replace(c, source="unused.avi") for c in site.cameras]))
        await seed_demo_users(store)
        service = Service(store, NoDetector(), ManualClock(T0), timezone=site.timezone)
        await service.load()
        await service.handle(crowd_output(100))
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(service, AuthConfig.for_demo()), host="127.0.0.1", port=port, log_level="error"
            )
        )
        holder["server"] = server
        started.set()
        await server.serve()
        await store.close()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(60)
    base = f"http://127.0.0.1:{port}"
    assert wait_for(lambda: _up(base), 30)
    yield base
    server = holder["server"]
    assert isinstance(server, uvicorn.Server)
    server.should_exit = True
    thread.join(30)


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/api/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture(scope="module")
def command_token(api_base: str) -> str:
    r = httpx.post(
        f"{api_base}/api/auth/token", json={"username": "command", "password": DEMO_PASSWORD}, timeout=10
    )
    return str(r.json()["access_token"])
