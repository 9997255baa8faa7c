"""The live feed over a real connection: a worker hears their own grid's incident, never another's."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from api.site import DEMO_PASSWORD
from models.clock import ManualClock
from models.db import Database
from tests.rig import T0, NoDetector, crowd_output
from tests.servers import InProcessApi, in_process_api

#: The demo roster's day-shift grid worker of each grid the demo camera sees.
GRID_OF = {"w001": "379901001001001", "w003": "379901001001002"}


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


def _next_incident(lines: Iterator[str]) -> tuple[str, dict] | None:  # type: ignore[type-arg]
    """The next incident message's (event line, data), or None when the read times out first."""
    try:
        for line in lines:
            if line.startswith("event: incident"):
                data = next(lines)
                assert data.startswith("data: "), data
                return line, json.loads(data.removeprefix("data: "))
    except httpx.ReadTimeout:
        return None
    return None


def test_feed_carries_only_the_callers_subtree(api: InProcessApi) -> None:
    timeout = httpx.Timeout(10, read=15)
    owner = {"Authorization": f"Bearer {_token(api.base, 'w001')}"}
    other = {"Authorization": f"Bearer {_token(api.base, 'w003')}"}
    with (
        httpx.stream("GET", f"{api.base}/api/stream", headers=owner, timeout=timeout) as mine,
        httpx.stream("GET", f"{api.base}/api/stream", headers=other, timeout=timeout) as theirs,
    ):
        mine_lines, theirs_lines = mine.iter_lines(), theirs.iter_lines()
        assert next(mine_lines) == ": connected" and next(theirs_lines) == ": connected"
        # Reported over the link as the analysis role reports it; the centre's intake stores it and its
        # outbox relay pushes it to the feed. 东关一网格: w001's grid.
        api.call(lambda system: system.link.publish(crowd_output(100)))
        first = _next_incident(mine_lines)
        assert first is not None and first[0] == "event: incident.opened"
        assert first[1]["incident"]["place"]["grid_code"] == GRID_OF["w001"]
        # Then one in 东关二网格, w003's grid: the feed is in outbox order, so the first incident w003
        # hears being this one means the earlier one was withheld from them.
        api.call(lambda system: system.link.publish(crowd_output(600)))
        second = _next_incident(theirs_lines)
        assert second is not None and second[0] == "event: incident.opened"
        assert second[1]["incident"]["place"]["grid_code"] == GRID_OF["w003"]
        assert second[1]["outbox_id"] > first[1]["outbox_id"]
