"""A real gridwatch API on loopback, in its own thread and event loop, for schema-driven fuzzing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from api.site import DEMO_PASSWORD
from api.wiring import System
from models.clock import ManualClock
from models.db import Database
from tests.rig import T0, NoDetector, crowd_output
from tests.servers import in_process_api

CASES: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if CASES:
        errors = sum(1 for c in CASES if c.startswith("5"))
        terminalreporter.write_line(
            f"schemathesis: {len(CASES)} cases run against the OpenAPI spec, {errors} server errors"
        )


@pytest.fixture(scope="module")
def api_base(postgres: Database) -> Iterator[str]:
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
        yield api.base


@pytest.fixture(scope="module")
def command_token(api_base: str) -> str:
    r = httpx.post(
        f"{api_base}/api/auth/token", json={"username": "command", "password": DEMO_PASSWORD}, timeout=10
    )
    return str(r.json()["access_token"])
