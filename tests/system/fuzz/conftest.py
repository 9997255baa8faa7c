"""A real gridwatch system with its database, for schema-driven fuzzing of its API, called in-process.

The system runs in its own thread and event loop (tests/servers.py); the fuzzer hands each request to that
loop through an ASGI client, so no socket, HTTP parser or connection set-up is paid per case.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.site import DEMO_PASSWORD
from api.wiring import System
from models.clock import ManualClock
from models.db import Database
from tests.rig import T0, NoDetector, crowd_output
from tests.servers import InProcessApi, in_process_api

CASES: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if CASES:
        errors = sum(1 for c in CASES if c.startswith("5"))
        terminalreporter.write_line(
            f"schemathesis: {len(CASES)} cases run against the OpenAPI spec, {errors} server errors"
        )


class InProcess:
    """Send requests to the served app on its own event loop."""

    def __init__(self, api: InProcessApi) -> None:
        self.api = api
        self.client = httpx.AsyncClient(
            # A server error is an answer (500) the checks judge, as over a socket, not an exception here.
            transport=httpx.ASGITransport(app=api.system.app, raise_app_exceptions=False),
            base_url="http://gridwatch",
            timeout=10,
        )

    def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        future = asyncio.run_coroutine_threadsafe(self.client.request(method, url, **kwargs), self.api.loop)
        return future.result(30)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.client.aclose(), self.api.loop).result(10)


@pytest.fixture(scope="module")
def served(postgres: Database) -> Iterator[InProcess]:
    async def one_incident(system: System) -> None:
        await system.centre.intake.handle(crowd_output(100))

    with in_process_api(
        postgres.url,
        "gw_fuzz",
        detector=NoDetector(),
        clock=ManualClock(T0),
        camera_source="unused.avi",
        start_cameras=False,
        prepare=one_incident,
    ) as api:
        caller = InProcess(api)
        yield caller
        caller.close()


@pytest.fixture
def command_token(served: InProcess, request: pytest.FixtureRequest) -> str:
    # A fresh sign-in per operation: signing out, ending one's sessions or another's end the session a
    # token belongs to (issue 15), and the operations fuzzed after them must not all answer 401. The
    # password change is fuzzed as a user nobody else signs in as: its wrong guesses lock that account.
    user = "w004" if "/auth/password" in request.node.name else "command"
    r = served.send("POST", "/api/v1/auth/token", json={"username": user, "password": DEMO_PASSWORD})
    return str(r.json()["access_token"])
