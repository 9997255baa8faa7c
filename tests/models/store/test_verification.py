"""store.verification: a recurrence that opened its own case is folded into the resolved one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from models.incidents import LogEntry
from models.records import EvidenceBlob, IncidentState
from models.store import Store
from tests.router.centre.routing_helpers import demo_router, opening, stall_event
from tests.router.demo_data import CAMERA_ID

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


async def resolved_incident(store: Store) -> uuid.UUID:
    router = demo_router()
    event = stall_event(CAMERA_ID, T0)
    incident_id, _ = await store.events.record(event, opening(router, event))
    path = [(IncidentState.DISPATCHED, IncidentState.ACCEPTED, "accept"),
            (IncidentState.ACCEPTED, IncidentState.IN_PROGRESS, "start"),
            (IncidentState.IN_PROGRESS, IncidentState.RESOLVED, "resolve")]  # fmt: skip
    for n, (before, after, action) in enumerate(path):
        await store.incidents.apply(
            LogEntry(incident_id, before, after, action, "w001", T0 + timedelta(minutes=n + 1))
        )
    return incident_id


async def test_the_open_recurrence_is_folded_into_the_resolved_case(store: Store) -> None:
    incident_id = await resolved_incident(store)
    router = demo_router()
    again = stall_event(CAMERA_ID, T0 + timedelta(minutes=8))
    blob = EvidenceBlob("snapshot", "image/jpeg", "ab" * 32, b"\xff\xd8jpeg")
    twin, opened = await store.events.record(again, opening(router, again), [blob])
    assert opened and twin != incident_id  # the resolved incident no longer absorbs events

    folded = await store.verification.fold_twin(incident_id, at=T0 + timedelta(minutes=9))

    assert folded == twin
    assert (await store.incidents.get(incident_id)).event_count == 2
    merged = await store.incidents.get(twin)
    assert (merged.state, merged.event_count) == (IncidentState.REJECTED, 0)
    last = (await store.incidents.log(twin))[-1]
    assert (last.action, last.actor, last.to_state) == ("merge", "camera", IncidentState.REJECTED)
    assert str(incident_id) in last.note


async def test_nothing_is_folded_without_a_twin_or_once_the_case_moved_on(store: Store) -> None:
    incident_id = await resolved_incident(store)
    assert await store.verification.fold_twin(incident_id, at=T0 + timedelta(minutes=9)) is None
    await store.incidents.apply(
        LogEntry(
            incident_id,
            IncidentState.RESOLVED,
            IncidentState.REOPENED,
            "reopen",
            "c001",
            T0 + timedelta(minutes=10),
        )
    )
    again = stall_event(CAMERA_ID, T0 + timedelta(minutes=11))
    await store.events.record(again, opening(demo_router(), again))
    assert await store.verification.fold_twin(incident_id, at=T0 + timedelta(minutes=12)) is None
