from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from models.db import available_migrations, migrate
from models.records import (
    Event,
    EventKind,
    Grid,
    GridKind,
    IncidentState,
    LocatedBy,
    Role,
    Severity,
    Shift,
    Tier,
)
from models.store import EvidenceBlob, IncidentFilter, IncidentOpening, NotFound, StaleVersion, Store

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def _grid(code: str = "379901001001001") -> Grid:
    return Grid(
        code=code,
        name="东关一网格",
        kind=GridKind.BASIC,
        county_code=code[:6],
        county_name="青河县",
        township_code=code[:9],
        township_name="城关街道",
        community_code=code[:12],
        community_name="东关社区",
        geometry={"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
    )


def _opening(key: str = "k1", at: datetime = T0) -> IncidentOpening:
    grid = _grid()
    return IncidentOpening(
        kind=EventKind.CROWD,
        severity=Severity.HIGH,
        tier=Tier.COMMUNITY,
        department="综治/公安",
        category_code="GW-CROWD-01",
        unit_code=grid.code,
        grid_code=grid.code,
        grid_match="inside",
        chain=grid.chain(),
        lonlat=(118.63, 35.79),
        located_by=LocatedBy.HOMOGRAPHY,
        camera_id="cam-1",
        dedup_key=key,
        title="人员聚集 crowd",
        at=at,
        accept_by=at + timedelta(minutes=10),
        assignee_id="w001",
        assignee_name="王芳",
        assignee_phone="13800000001",
    )


def _event(at: datetime = T0) -> Event:
    return Event(kind=EventKind.CROWD, camera_id="cam-1", zone_name="road", started_at=at, confidence=0.8)


async def test_migrations_are_idempotent_and_recorded(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        first = await migrate(conn)
        second = await migrate(conn)
        versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")]
    finally:
        await conn.close()
    assert first == [m.name for m in available_migrations()]
    assert second == []
    assert versions == [m.version for m in available_migrations()]


async def test_concurrent_migrations_queue_on_the_advisory_lock(db_url: str) -> None:
    conns = [await asyncpg.connect(db_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
    finally:
        for c in conns:
            await c.close()
    applied = [name for r in results for name in r]
    assert sorted(applied) == sorted(m.name for m in available_migrations())


async def test_second_event_with_same_key_attaches_to_open_incident(store: Store) -> None:
    await store.replace_grids([_grid()])
    first, opened = await store.record_event(_event(), _opening())
    second, opened_again = await store.record_event(
        _event(T0 + timedelta(seconds=30)), _opening(at=T0 + timedelta(seconds=30))
    )
    assert opened and not opened_again
    assert first == second
    row = await store.get_incident_row(first)
    assert row["event_count"] == 2
    assert row["last_seen_at"] == T0 + timedelta(seconds=30)
    assert row["state"] == "dispatched"
    log = await store.incident_log(first)
    assert [(e["from_state"], e["to_state"]) for e in log] == [(None, "reported"), ("reported", "dispatched")]


async def test_racing_events_never_open_two_incidents(store: Store) -> None:
    await store.replace_grids([_grid()])
    results = await asyncio.gather(*(store.record_event(_event(), _opening("race")) for _ in range(8)))
    ids = {incident_id for incident_id, _ in results}
    assert len(ids) == 1
    assert sum(opened for _, opened in results) == 1
    assert (await store.get_incident_row(ids.pop()))["event_count"] == 8


async def test_closed_incident_frees_the_key(store: Store) -> None:
    await store.replace_grids([_grid()])
    first, _ = await store.record_event(_event(), _opening())
    for src, dst, action in [
        (IncidentState.DISPATCHED, IncidentState.ACCEPTED, "accept"),
        (IncidentState.ACCEPTED, IncidentState.IN_PROGRESS, "start"),
        (IncidentState.IN_PROGRESS, IncidentState.RESOLVED, "resolve"),
    ]:
        await store.transition(first, to_state=dst, action=action, actor="w001", at=T0, expected_from=src)
    second, opened = await store.record_event(_event(), _opening())
    assert opened and second != first


async def test_transition_from_a_stale_state_is_refused(store: Store) -> None:
    await store.replace_grids([_grid()])
    incident_id, _ = await store.record_event(_event(), _opening())
    with pytest.raises(StaleVersion):
        await store.transition(
            incident_id,
            to_state=IncidentState.IN_PROGRESS,
            action="start",
            actor="w001",
            at=T0,
            expected_from=IncidentState.ACCEPTED,
        )


async def test_event_evidence_and_outbox_are_written_with_the_incident(store: Store) -> None:
    await store.replace_grids([_grid()])
    blob = EvidenceBlob("snapshot", "image/jpeg", "ab" * 32, b"\xff\xd8jpeg")
    incident_id, _ = await store.record_event(_event(), _opening(), [blob])
    events = await store.incident_events(incident_id)
    assert len(events) == 1 and events[0]["evidence"][0]["sha256"] == "ab" * 32
    meta, data = await store.get_evidence(events[0]["evidence"][0]["id"])
    assert data == b"\xff\xd8jpeg" and meta["unit_code"] == "379901001001001"
    outbox = await store.pending_outbox()
    assert [o["topic"] for o in outbox] == ["incident.opened"]
    assert outbox[0]["payload"]["incident_id"] == str(incident_id)


async def test_evidence_added_later_is_listed_served_and_announced(store: Store) -> None:
    """A clip finishes seconds after its event was stored: it joins the event and the pages hear of it."""
    await store.replace_grids([_grid()])
    event = _event()
    incident_id, _ = await store.record_event(event, _opening())
    clip = EvidenceBlob("clip", "video/mp4", "cd" * 32, b"\x00\x00\x00\x20ftypisom")
    evidence_id = await store.add_evidence(event.id, clip)
    [listed] = (await store.incident_events(incident_id))[0]["evidence"]
    assert listed == {
        "id": evidence_id,
        "role": "clip",
        "media_type": "video/mp4",
        "sha256": "cd" * 32,
        "size": len(clip.data),
    }
    meta, data = await store.get_evidence(evidence_id)
    assert data == clip.data and meta["media_type"] == "video/mp4"
    outbox = await store.pending_outbox()
    assert [o["topic"] for o in outbox] == ["incident.opened", "incident.updated"]
    assert outbox[1]["payload"] == {
        "incident_id": str(incident_id),
        "event_id": str(event.id),
        "evidence_id": evidence_id,
        "role": "clip",
    }
    with pytest.raises(NotFound):
        await store.add_evidence(_event().id, clip)
    assert len(await store.pending_outbox()) == 2


async def test_roster_and_grids_round_trip(store: Store) -> None:
    grid = _grid()
    await store.replace_grids([grid])
    shift = Shift("w002", "李强", "13800000002", Role.GRID_WORKER, grid.code, frozenset({1, 2}), 1200, 480)
    await store.replace_roster([shift])
    assert await store.load_grids() == [grid]
    assert await store.load_roster() == [shift]
    assert {"379901", "379901001", "379901001001", grid.code} <= await store.unit_codes()


async def test_incident_filter_by_unit_subtree(store: Store) -> None:
    await store.replace_grids([_grid()])
    await store.record_event(_event(), _opening())
    inside, n_inside = await store.list_incident_rows(IncidentFilter(unit_prefix="379901001"))
    outside, n_outside = await store.list_incident_rows(IncidentFilter(unit_prefix="379901002"))
    assert (len(inside), n_inside, len(outside), n_outside) == (1, 1, 0, 0)
    assert json.dumps(inside[0]["chain"], ensure_ascii=False).count("东关社区") == 1
