"""Deadlines stored as timers: armed with the incident, cancelled by acting, fired once by the Escalator."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from models.clock import ManualClock
from models.incidents import LogEntry
from models.records import IncidentState
from models.store import Store
from router.centre.bell import OutboxBell
from router.centre.escalator import Escalator
from router.duty import Roster
from tests.router.centre.routing_helpers import demo_router, opening, stall_event
from tests.router.demo_data import CAMERA_ID, demo_shifts

SH = ZoneInfo("Asia/Shanghai")
MON_10 = datetime(2026, 11, 23, 10, 0, tzinfo=SH)


def escalator(store: Store, clock: ManualClock, bell: OutboxBell | None = None) -> Escalator:
    return Escalator(store.timers, clock, lambda: Roster(demo_shifts()), bell or OutboxBell())


async def test_100_events_from_3_cameras_make_one_incident(store: Store) -> None:
    router = demo_router(copies=3)
    cameras = sorted(router.cameras)
    ids = set()
    for n in range(100):
        event = stall_event(cameras[n % 3], MON_10 + timedelta(seconds=n), foot=(235 + n % 7, 262 + n % 5))
        incident_id, _ = await store.events.record(event, opening(router, event))
        ids.add(incident_id)
    assert len(ids) == 1
    incident = await store.incidents.get(ids.pop())
    assert incident.event_count == 100 and incident.grid_code == "379901001001001"
    assert incident.last_seen_at == MON_10 + timedelta(seconds=99)
    assert len(await store.incidents.events(incident.id)) == 100
    assert (await store.counts())["incidents"] == 1


async def test_opening_arms_each_step_and_accepting_cancels_the_accept_clock(store: Store) -> None:
    router = demo_router()
    event = stall_event(CAMERA_ID, MON_10)
    incident_id, _ = await store.events.record(event, opening(router, event))
    timers = {t.kind: t for t in await store.timers.of_incident(incident_id)}
    assert {k: t.due_at for k, t in timers.items()} == {
        "accept": MON_10 + timedelta(minutes=30),  # occupation is MEDIUM
        "arrive": MON_10 + timedelta(hours=2),
        "resolve": MON_10 + timedelta(hours=24),
    }
    assert (await store.incidents.get(incident_id)).arrive_by == MON_10 + timedelta(hours=2)
    await store.incidents.apply(
        LogEntry(incident_id, IncidentState.DISPATCHED, IncidentState.ACCEPTED, "accept", "w001", MON_10)
    )
    timers = {t.kind: t for t in await store.timers.of_incident(incident_id)}
    assert timers["accept"].cancelled_at is not None and timers["accept"].outcome == "met:accepted"
    assert timers["arrive"].cancelled_at is None
    clock = ManualClock(MON_10 + timedelta(hours=1))
    assert await escalator(store, clock).run_once() == []


async def test_missed_deadlines_escalate_up_the_chain_once_each(store: Store) -> None:
    router = demo_router()
    event = stall_event(CAMERA_ID, MON_10)
    incident_id, _ = await store.events.record(event, opening(router, event))
    clock = ManualClock(MON_10 + timedelta(minutes=29))
    bell = OutboxBell()
    rings: list[None] = []
    bell.listen(lambda: rings.append(None))
    worker = escalator(store, clock, bell)
    assert await worker.run_once() == []
    assert rings == []  # nothing fired, nothing written for the feed and the robots
    clock.set(MON_10 + timedelta(minutes=30))
    [fired] = await worker.run_once()
    assert (fired.kind, fired.outcome) == ("accept", "escalated")
    assert len(rings) == 1  # the outbox row it wrote is announced at once
    assert await worker.run_once() == []  # fired exactly once
    incident = await store.incidents.get(incident_id)
    assert (incident.assignee_id, incident.late, incident.escalation_level) == ("w008", True, 1)
    assert incident.duty["role"] == "grid_leader" and incident.duty["escalated_from"] == "w001"
    log = await store.incidents.log(incident_id)
    assert log[-1].action == "escalate" and "w008" in log[-1].note
    pending = [
        t for t in await store.timers.of_incident(incident_id) if t.kind == "accept" and t.fired_at is None
    ]
    assert [t.due_at for t in pending] == [MON_10 + timedelta(minutes=60)]
    topics = [r.topic for r in await store.outbox.pending()]
    assert topics == ["incident.opened", "incident.escalated"]

    clock.set(MON_10 + timedelta(minutes=60))
    await worker.run_once()
    assert (await store.incidents.get(incident_id)).assignee_id == "w010"
    await store.incidents.apply(
        LogEntry(incident_id, IncidentState.DISPATCHED, IncidentState.ACCEPTED, "accept", "w010", clock.now())
    )
    # arrive is due at +2 h: the community duty who accepted missed it → township duty.
    clock.set(MON_10 + timedelta(hours=2))
    [fired] = await worker.run_once()
    assert fired.kind == "arrive"
    assert (await store.incidents.get(incident_id)).assignee_id == "w012"
    assert [e.action for e in await store.incidents.log(incident_id)].count("escalate") == 3


async def test_a_restarted_worker_fires_what_was_due_while_it_was_down(db_url: str) -> None:
    before = await Store.connect(db_url)
    try:
        router = demo_router()
        event = stall_event(CAMERA_ID, MON_10)
        incident_id, _ = await before.events.record(event, opening(router, event))
    finally:
        await before.close()
    later = await Store.connect(db_url)  # a new process: nothing in memory, everything in the database
    try:
        clock = ManualClock(MON_10 + timedelta(hours=3))
        fired = await escalator(later, clock).run_once()
        assert sorted(f.kind for f in fired) == ["accept", "arrive"]
        assert (await later.incidents.get(incident_id)).late is True
    finally:
        await later.close()
