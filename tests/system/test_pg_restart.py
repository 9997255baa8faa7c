"""Kill PostgreSQL (SIGKILL to the postmaster) 20 times while events flow and deadlines come due.

A dedicated embedded server, not the shared fixture: killing that one would break every other test.
Afterwards no acknowledged event is lost, no dedup key has two incidents, and every timer that came
due fired exactly once (one 'escalate' log entry per fired, non-stale timer).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from models.clock import SystemClock
from models.db import open_database
from models.incidents import IncidentOpening
from models.records import Event
from models.store import TRANSIENT_DB_ERRORS, FiredTimer, Store
from router.centre.bell import OutboxBell
from router.centre.escalator import Escalator
from router.duty import Roster
from tests.router.centre.routing_helpers import demo_router, opening, stall_event
from tests.router.demo_data import demo_shifts

# Waits on twenty restarts of its own server; little CPU (./run test runs it beside the others).
pytestmark = pytest.mark.waits

KILLS = 20
FOOTS = [(235, 262), (630, 365), (100, 500), (700, 200)]


class Server:
    def __init__(self, root: Path) -> None:
        self.db = open_database(None, root)
        self.server: Any = self.db._server
        self.pgdata = Path(self.server.pgdata)

    def kill(self) -> None:
        pid = int((self.pgdata / "postmaster.pid").read_text().split("\n")[0])
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.01)

    def start(self) -> None:
        from pgserver._commands import pg_ctl

        socket_dir = self.server.get_postmaster_info().socket_dir
        args = ["-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(self.server.log), "start"]
        for _ in range(50):  # orphaned backends hold shared memory for a moment after the kill
            try:
                pg_ctl(args, pgdata=self.pgdata, user=self.server.system_user, timeout=20)
                return
            except Exception:
                time.sleep(0.2)
        raise RuntimeError(f"postgres did not restart; see {self.server.log}")


class WatchedEscalator(Escalator):
    """The escalator, telling the test when one of its passes began after ``until`` and found nothing due."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.until: datetime | None = None
        self.caught_up = asyncio.Event()

    async def run_once(self) -> list[FiredTimer]:
        began = self._clock.now()
        fired = await super().run_once()
        if self.until is not None and began >= self.until and not fired:
            self.caught_up.set()
        return fired


@pytest.fixture
def server() -> Iterator[Server]:
    root = Path(tempfile.mkdtemp(prefix="gridwatch-kill-pg-"))
    s = Server(root)
    yield s
    s.db.close()
    shutil.rmtree(root, ignore_errors=True)


async def test_kill_and_restart_20_times_loses_and_duplicates_nothing(server: Server) -> None:
    store = await Store.connect(server.db.url, max_size=4)
    router = demo_router()
    clock = SystemClock()
    short = timedelta(milliseconds=300)
    acknowledged: list[Event] = []
    stop = asyncio.Event()

    async def produce() -> None:
        n = 0
        while not stop.is_set():
            event = stall_event("cam-dongguan-road", clock.now(), FOOTS[n % len(FOOTS)])
            draft = opening(router, event)
            now = event.started_at
            draft = _with_deadlines(draft, now + short, now + 2 * short, now + 3 * short)
            await store.events.record_retrying(event, draft, attempts=200, delay_s=0.05)
            acknowledged.append(event)
            n += 1
            if n % 9 == 0:  # incidents get resolved so new ones open under the same keys
                await _resolve_open(store)
            await asyncio.sleep(0.005)

    escalator = WatchedEscalator(
        store.timers, clock, lambda: Roster(demo_shifts()), OutboxBell(), poll_s=0.05
    )
    tasks = [asyncio.create_task(produce()), asyncio.create_task(escalator.run())]
    for _ in range(KILLS):
        await asyncio.sleep(0.25)
        await asyncio.to_thread(server.kill)
        await asyncio.sleep(0.05)
        await asyncio.to_thread(server.start)
    stop.set()
    await tasks[0]
    # Every deadline armed so far is due by `until`; the escalator that lived through the kills fires them
    # all (a pass that began after it and found nothing due), with no help from the test.
    until = clock.now() + 3 * short
    escalator.until = until
    await asyncio.wait_for(escalator.caught_up.wait(), 30)
    tasks[1].cancel()
    await asyncio.gather(tasks[1], return_exceptions=True)
    await store.close()

    conn = await asyncpg.connect(server.db.url)
    try:
        stored = {r["id"] for r in await conn.fetch("SELECT id FROM events")}
        assert len(acknowledged) > 100
        assert {e.id for e in acknowledged} <= stored  # nothing acknowledged was lost
        per_key = await conn.fetch(
            "SELECT dedup_key, count(*) AS n FROM incidents WHERE state NOT IN ('resolved', 'verified',"
            " 'closed', 'rejected') GROUP BY dedup_key"
        )
        assert all(r["n"] == 1 for r in per_key)
        counted = await conn.fetchval("SELECT sum(event_count) FROM incidents")
        assert counted == len(stored)  # every event attached exactly once
        late = await conn.fetchval(
            "SELECT count(*) FROM timers WHERE fired_at IS NULL AND cancelled_at IS NULL AND due_at <= $1",
            until,
        )
        assert late == 0  # every deadline that came due has fired
        fired = await conn.fetchval("SELECT count(*) FROM timers WHERE outcome IN ('escalated', 'late')")
        escalations = await conn.fetchval("SELECT count(*) FROM incident_log WHERE action = 'escalate'")
        assert fired == escalations > 0
    finally:
        await conn.close()


def _with_deadlines(o: IncidentOpening, accept: Any, arrive: Any, resolve: Any) -> IncidentOpening:
    return replace(o, accept_by=accept, deadlines={"accept": accept, "arrive": arrive, "resolve": resolve})


async def _resolve_open(store: Store) -> None:
    for _ in range(50):
        try:
            await store.pool.execute(
                "UPDATE incidents SET state = 'resolved' WHERE state IN ('dispatched', 'accepted')"
            )
            return
        except TRANSIENT_DB_ERRORS:
            await asyncio.sleep(0.05)
