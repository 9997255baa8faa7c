"""store.events.record: an event opens an incident or folds into the open one with its dedup key, in one
transaction with its evidence and the outbox row announcing it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from models.incidents import LogEntry
from models.records import EvidenceBlob, IncidentState
from models.store import Store
from tests.models.store.samples import GRID_CODE, T0, crowd_event, crowd_opening, sample_grid


async def test_second_event_with_same_key_attaches_to_open_incident(store: Store) -> None:
    await store.grids.replace([sample_grid()])
    first, opened = await store.events.record(crowd_event(), crowd_opening())
    second, opened_again = await store.events.record(
        crowd_event(T0 + timedelta(seconds=30)), crowd_opening(at=T0 + timedelta(seconds=30))
    )
    assert opened and not opened_again
    assert first == second
    incident = await store.incidents.get(first)
    assert incident.event_count == 2
    assert incident.last_seen_at == T0 + timedelta(seconds=30)
    assert incident.state is IncidentState.DISPATCHED
    log = await store.incidents.log(first)
    assert [(e.from_state, e.to_state) for e in log] == [
        (None, IncidentState.REPORTED),
        (IncidentState.REPORTED, IncidentState.DISPATCHED),
    ]


async def test_racing_events_never_open_two_incidents(store: Store) -> None:
    await store.grids.replace([sample_grid()])
    results = await asyncio.gather(
        *(store.events.record(crowd_event(), crowd_opening("race")) for _ in range(8))
    )
    ids = {incident_id for incident_id, _ in results}
    assert len(ids) == 1
    assert sum(opened for _, opened in results) == 1
    assert (await store.incidents.get(ids.pop())).event_count == 8


async def test_closed_incident_frees_the_key(store: Store) -> None:
    await store.grids.replace([sample_grid()])
    first, _ = await store.events.record(crowd_event(), crowd_opening())
    for src, dst, action in [
        (IncidentState.DISPATCHED, IncidentState.ACCEPTED, "accept"),
        (IncidentState.ACCEPTED, IncidentState.IN_PROGRESS, "start"),
        (IncidentState.IN_PROGRESS, IncidentState.RESOLVED, "resolve"),
    ]:
        await store.incidents.apply(LogEntry(first, src, dst, action, "w001", T0))
    second, opened = await store.events.record(crowd_event(), crowd_opening())
    assert opened and second != first


async def test_event_evidence_and_outbox_are_written_with_the_incident(store: Store) -> None:
    await store.grids.replace([sample_grid()])
    blob = EvidenceBlob("snapshot", "image/jpeg", "ab" * 32, b"\xff\xd8jpeg")
    incident_id, _ = await store.events.record(crowd_event(), crowd_opening(), [blob])
    events = await store.incidents.events(incident_id)
    assert len(events) == 1 and events[0].evidence[0].sha256 == "ab" * 32
    meta, data = await store.evidence.get(events[0].evidence[0].id)
    assert data == b"\xff\xd8jpeg" and meta.unit_code == GRID_CODE
    outbox = await store.outbox.pending()
    assert [o.topic for o in outbox] == ["incident.opened"]
    assert outbox[0].payload["incident_id"] == str(incident_id)
