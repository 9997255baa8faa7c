"""Deadlines stored as timers: armed with the incident, cancelled by acting, fired once by the worker."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from api.escalator import Escalator
from models.clock import ManualClock
from models.records import IncidentState
from models.store import Store
from router.duty import Roster
from tests.router.centre.routing_helpers import demo_router, opening, stall_event
from tests.router.demo_data import CAMERA_ID, demo_shifts

SH = ZoneInfo("Asia/Shanghai")
MON_10 = datetime(2026, 11, 23, 10, 0, tzinfo=SH)


async def test_100_events_from_3_cameras_make_one_incident(store: Store) -> None:
    router = demo_router(copies=3)
    cameras = sorted(router.cameras)
    ids = set()
    for n in range(100):
        event = stall_event(cameras[n % 3], MON_10 + timedelta(seconds=n), foot=(235 + n % 7, 262 + n % 5))
        incident_id, _ = await store.record_event(event, opening(router, event))
        ids.add(incident_id)
    assert len(ids) == 1
    incident = await store.get_incident(ids.pop())
    assert incident.event_count == 100 and incident.grid_code == "379901001001001"
    assert incident.last_seen_at == MON_10 + timedelta(seconds=99)
    assert len(await store.incident_events(incident.id)) == 100
    assert (await store.counts())["incidents"] == 1


async def test_opening_arms_each_step_and_accepting_cancels_the_accept_clock(store: Store) -> None:
    router = demo_router()
    event = stall_event(CAMERA_ID, MON_10)
    incident_id, _ = await store.record_event(event, opening(router, event))
    timers = {t["kind"]: t for t in await store.timers(incident_id)}
    assert {k: t["due_at"] for k, t in timers.items()} == {
        "accept": MON_10 + timedelta(minutes=30),  # occupation is MEDIUM
        "arrive": MON_10 + timedelta(hours=2),
        "resolve": MON_10 + timedelta(hours=24),
    }
    row = await store.get_incident_row(incident_id)
    assert row["arrive_by"] == MON_10 + timedelta(hours=2)
    await store.transition(
        incident_id, to_state=IncidentState.ACCEPTED, action="accept", actor="w001", at=MON_10,
        expected_from=IncidentState.DISPATCHED,
    )  # fmt: skip
    timers = {t["kind"]: t for t in await store.timers(incident_id)}
    assert timers["accept"]["cancelled_at"] is not None and timers["accept"]["outcome"] == "met:accepted"
    assert timers["arrive"]["cancelled_at"] is None
    clock = ManualClock(MON_10 + timedelta(hours=1))
    assert await Escalator(store, clock, lambda: Roster(demo_shifts())).run_once() == []


async def test_missed_deadlines_escalate_up_the_chain_once_each(store: Store) -> None:
    router = demo_router()
    event = stall_event(CAMERA_ID, MON_10)
    incident_id, _ = await store.record_event(event, opening(router, event))
    clock = ManualClock(MON_10 + timedelta(minutes=29))
    escalator = Escalator(store, clock, lambda: Roster(demo_shifts()))
    assert await escalator.run_once() == []
    clock.set(MON_10 + timedelta(minutes=30))
    [fired] = await escalator.run_once()
    assert (fired.kind, fired.outcome) == ("accept", "escalated")
    assert await escalator.run_once() == []  # fired exactly once
    row = await store.get_incident_row(incident_id)
    assert (row["assignee_id"], row["late"], row["escalation_level"]) == ("w008", True, 1)
    assert row["duty"]["role"] == "grid_leader" and row["duty"]["escalated_from"] == "w001"
    log = await store.incident_log(incident_id)
    assert log[-1]["action"] == "escalate" and "w008" in log[-1]["note"]
    pending = [t for t in await store.timers(incident_id) if t["kind"] == "accept" and t["fired_at"] is None]
    assert [t["due_at"] for t in pending] == [MON_10 + timedelta(minutes=60)]
    topics = [r["topic"] for r in await store.pending_outbox()]
    assert topics == ["incident.opened", "incident.escalated"]

    clock.set(MON_10 + timedelta(minutes=60))
    await escalator.run_once()
    assert (await store.get_incident_row(incident_id))["assignee_id"] == "w010"
    await store.transition(
        incident_id, to_state=IncidentState.ACCEPTED, action="accept", actor="w010", at=clock.now(),
        expected_from=IncidentState.DISPATCHED,
    )  # fmt: skip
    # arrive is due at +2 h: the community duty who accepted missed it → township duty.
    clock.set(MON_10 + timedelta(hours=2))
    [fired] = await escalator.run_once()
    assert fired.kind == "arrive"
    assert (await store.get_incident_row(incident_id))["assignee_id"] == "w012"
    assert [e["action"] for e in await store.incident_log(incident_id)].count("escalate") == 3


async def test_a_restarted_worker_fires_what_was_due_while_it_was_down(store: Store, db_url: str) -> None:
    router = demo_router()
    event = stall_event(CAMERA_ID, MON_10)
    incident_id, _ = await store.record_event(event, opening(router, event))
    await store.close()
    later = await Store.connect(db_url)  # a new process: nothing in memory, everything in the database
    try:
        clock = ManualClock(MON_10 + timedelta(hours=3))
        fired = await Escalator(later, clock, lambda: Roster(demo_shifts())).run_once()
        assert sorted(f.kind for f in fired) == ["accept", "arrive"]
        assert (await later.get_incident_row(incident_id))["late"] is True
    finally:
        await later.close()
        store.pool = (await Store.connect(db_url)).pool  # the fixture closes its store afterwards
