"""The live feed over a real connection: a worker hears their own grid's incident, never another's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from api.runner import DEMO_PASSWORD
from api.service import Service
from models.clock import ManualClock
from models.db import Database
from tests.api.test_app import T0, NoDetector, crowd_output
from tests.servers import InProcessApi, in_process_api


@pytest.fixture
def api(postgres: Database) -> Iterator[InProcessApi]:
    with in_process_api(
        postgres.url,
        "gw_feed",
        detector=NoDetector(),
        clock=ManualClock(T0),
        camera_source="unused.avi",
        start_cameras=False,
    ) as running:
        yield running


def _token(base: str, user: str) -> str:
    r = httpx.post(f"{base}/api/auth/token", json={"username": user, "password": DEMO_PASSWORD}, timeout=10)
    return str(r.json()["access_token"])


def _first_incident_line(stream: Iterator[str]) -> str | None:
    """The first 'event: incident…' line, or None when the read times out first."""
    try:
        for line in stream:
            if line.startswith("event: incident"):
                return line
    except httpx.ReadTimeout:
        return None
    return None


def test_feed_carries_only_the_callers_subtree(api: InProcessApi) -> None:
    timeout = httpx.Timeout(10, read=4)
    owner = {"Authorization": f"Bearer {_token(api.base, 'w001')}"}
    other = {"Authorization": f"Bearer {_token(api.base, 'w003')}"}
    with (
        httpx.stream("GET", f"{api.base}/api/stream", headers=owner, timeout=timeout) as mine,
        httpx.stream("GET", f"{api.base}/api/stream", headers=other, timeout=timeout) as theirs,
    ):
        mine_lines, theirs_lines = mine.iter_lines(), theirs.iter_lines()
        assert next(mine_lines) == ": connected" and next(theirs_lines) == ": connected"

        async def open_and_deliver(service: Service) -> None:
            await service.handle(crowd_output(100))  # 东关一网格: w001's grid
            await service.relay.deliver_pending()

        asyncio.run_coroutine_threadsafe(open_and_deliver(api.service), api.loop).result(30)
        assert _first_incident_line(mine_lines) == "event: incident.opened"
        assert _first_incident_line(theirs_lines) is None
