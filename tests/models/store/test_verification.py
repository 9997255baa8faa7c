"""store.verification against the database: clear → verified; seen again → reopened with evidence."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from models.incidents import LogEntry, Sighting
from models.records import EventKind, EvidenceBlob, IncidentState
from models.store import Store
from router.verification import Verdict, decide
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


async def sightings(store: Store, incident_id: uuid.UUID) -> tuple[datetime, list[Sighting]]:
    resolved = await store.verification.resolved_at(incident_id)
    assert resolved is not None
    return resolved, await store.verification.sightings(incident_id, resolved)


async def test_clear_window_verifies(store: Store) -> None:
    incident_id = await resolved_incident(store)
    resolved, seen = await sightings(store, incident_id)
    decision = decide(await _kind(store, incident_id), resolved, resolved + timedelta(minutes=15), seen)
    assert decision.verdict is Verdict.VERIFY
    await store.verification.verify_clear(
        incident_id, at=resolved + timedelta(minutes=15), note=decision.note
    )
    assert (await store.incidents.get(incident_id)).state is IncidentState.VERIFIED


async def test_recurrence_reopens_with_evidence_and_folds_the_duplicate(store: Store) -> None:
    incident_id = await resolved_incident(store)
    router = demo_router()
    again = stall_event(CAMERA_ID, T0 + timedelta(minutes=8))
    blob = EvidenceBlob("snapshot", "image/jpeg", "ab" * 32, b"\xff\xd8jpeg")
    twin, opened = await store.events.record(again, opening(router, again), [blob])
    assert opened and twin != incident_id  # the resolved incident no longer absorbs events
    resolved, seen = await sightings(store, incident_id)
    decision = decide(await _kind(store, incident_id), resolved, resolved + timedelta(minutes=9), seen)
    assert decision.verdict is Verdict.REOPEN and len(decision.evidence_ids) == 1
    folded = await store.verification.reopen_with_evidence(
        incident_id, at=resolved + timedelta(minutes=9), note=decision.note, attachments=decision.evidence_ids
    )
    assert folded == twin
    reopened = await store.incidents.get(incident_id)
    assert reopened.state is IncidentState.REOPENED and reopened.event_count == 2
    assert (await store.incidents.get(twin)).state is IncidentState.REJECTED
    log = await store.incidents.log(incident_id)
    assert log[-1].action == "reopen" and log[-1].attachments == decision.evidence_ids


async def _kind(store: Store, incident_id: uuid.UUID) -> EventKind:
    return (await store.incidents.get(incident_id)).kind
