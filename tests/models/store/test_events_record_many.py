"""store.events.record_many: a group in one transaction leaves what recording its events one by one leaves."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from models.records import Detection, EvidenceBlob, IncidentState
from models.store import Recording, Store
from tests.models.store.samples import T0, crowd_event, crowd_opening, sample_grid


def _script(seed: int) -> list[tuple[int, str, timedelta, bool, bool]]:
    """(event number, dedup key, offset from T0, with evidence, with arrive/resolve deadlines) per event.

    Offsets go backwards now and then: last_seen_at must be the latest, not the last, of a key's events.
    Each key's first event is its earliest, so no later one moves the opening back (what that does is
    tested below).
    """
    rng = random.Random(seed)
    script: list[tuple[int, str, timedelta, bool, bool]] = []
    for n in range(40):
        key = f"k{rng.randrange(6)}"
        offset = timedelta(seconds=rng.randrange(-30, 300))
        if all(key != k for _, k, *_ in script):
            offset = timedelta(seconds=-60 + n)
        script.append((n, key, offset, rng.random() < 0.4, n % 3 == 0))
    return script


def _items(
    prefix: str, script: list[tuple[int, str, timedelta, bool, bool]]
) -> tuple[list[Recording], dict[str, int]]:
    """The script's events under keys prefixed with ``prefix``; fresh event ids, mapped back to numbers."""
    items: list[Recording] = []
    number_of: dict[str, int] = {}
    for n, key, offset, with_evidence, with_deadlines in script:
        at = T0 + offset
        boxes = tuple(
            Detection((10.0 * b, 20.0, 10.0 * b + 30, 90.0), 0.5 + b / 100, "person", b) for b in range(n % 4)
        )
        event = replace(crowd_event(at), detections=boxes, person_count=len(boxes), zone_name=f"zone-{n % 2}")
        opening = replace(crowd_opening(prefix + key, at), title=f"event {n}", camera_id=f"cam-{n % 3}")
        if with_deadlines:
            opening = replace(
                opening, deadlines={"arrive": at + timedelta(minutes=30), "resolve": at + timedelta(hours=4)}
            )
        evidence = (
            [
                EvidenceBlob("snapshot", "image/jpeg", f"{n:064x}", b"\xff\xd8snap" + bytes([n])),
                EvidenceBlob("clean", "image/jpeg", f"{n + 1000:064x}", b"\xff\xd8clean" + bytes([n])),
            ]
            if with_evidence
            else []
        )
        items.append((event, opening, evidence))
        number_of[str(event.id)] = n
    return items, number_of


async def _snapshot(store: Store, prefix: str, number_of: dict[str, int]) -> dict[str, Any]:
    """Everything recording wrote under the prefix's keys, with ids replaced by what they stand for."""
    keep = len(prefix)
    incidents = await store.pool.fetch(
        "SELECT * FROM incidents WHERE dedup_key LIKE $1 || '%' ORDER BY dedup_key", prefix
    )
    key_of = {r["id"]: r["dedup_key"][keep:] for r in incidents}
    skip = {"id", "dedup_key", "updated_at"}
    ids = list(key_of)
    log = await store.pool.fetch(
        "SELECT incident_id, from_state, to_state, action, actor, at, note, attachments FROM incident_log"
        " WHERE incident_id = ANY($1) ORDER BY id",
        ids,
    )
    timers = await store.pool.fetch(
        "SELECT incident_id, kind, due_at, fired_at, cancelled_at, outcome FROM timers"
        " WHERE incident_id = ANY($1) ORDER BY id",
        ids,
    )
    events = await store.pool.fetch(
        "SELECT * FROM events WHERE incident_id = ANY($1) ORDER BY started_at, id", ids
    )
    evidence = await store.pool.fetch(
        "SELECT v.event_id, v.role, v.media_type, v.sha256, v.size, v.data FROM evidence v"
        " JOIN events e ON e.id = v.event_id WHERE e.incident_id = ANY($1)",
        ids,
    )
    outbox = await store.pool.fetch(
        "SELECT topic, incident_id, payload FROM outbox WHERE incident_id = ANY($1) ORDER BY id", ids
    )
    return {
        "incidents": [
            {k: v for k, v in r.items() if k not in skip} | {"key": key_of[r["id"]]} for r in incidents
        ],
        "log": [(key_of[r["incident_id"]], *list(r.values())[1:]) for r in log],
        "timers": [(key_of[r["incident_id"]], *list(r.values())[1:]) for r in timers],
        "events": sorted(
            (
                number_of[str(r["id"])],
                key_of[r["incident_id"]],
                *(v for k, v in r.items() if k not in skip | {"incident_id", "created_at"}),
            )
            for r in events
        ),
        "evidence": sorted((number_of[str(r["event_id"])], *list(r.values())[1:]) for r in evidence),
        "outbox": [
            (
                r["topic"],
                key_of[r["incident_id"]],
                number_of[r["payload"]["event_id"]],
                r["payload"]["incident_id"] == str(r["incident_id"]),
            )
            for r in outbox
        ],
    }


@pytest.mark.parametrize("seed", [1, 2])
async def test_a_group_leaves_what_one_by_one_leaves(store: Store, seed: int) -> None:
    await store.grids.replace([sample_grid()])
    script = _script(seed)
    # Some keys already have an open incident before the groups arrive: the groups fold into those.
    prelude, rest = script[:3], script[3:]
    singles, single_numbers = _items("one:", script)
    grouped, group_numbers = _items("group:", script)

    single_results = [await store.events.record(*item) for item in singles]
    group_results = [await store.events.record(*item) for item in grouped[: len(prelude)]]
    position = len(prelude)
    for size in (1, 7, 2, 100):  # the last group takes everything left
        group_results += await store.events.record_many(grouped[position : position + size])
        position += size
    assert position >= len(script) and len(rest) > 7 + 2 + 1

    def shape(results: list[tuple[uuid.UUID, bool]]) -> list[tuple[int, bool]]:
        first_seen: dict[uuid.UUID, int] = {}
        return [(first_seen.setdefault(i, len(first_seen)), opened) for i, opened in results]

    assert shape(group_results) == shape(single_results)
    one = await _snapshot(store, "one:", single_numbers)
    group = await _snapshot(store, "group:", group_numbers)
    assert group == one
    # The comparison is not vacuous: keys folded several events, some late ones, and deadlines were armed.
    assert {i["key"] for i in one["incidents"]} == {key for _, key, *_ in script}
    assert any(i["event_count"] > 3 for i in one["incidents"])
    offsets: dict[str, list[timedelta]] = {}
    for _, key, offset, _, _ in script:
        offsets.setdefault(key, []).append(offset)
    assert any(max(seen) != seen[-1] for seen in offsets.values())
    assert {kind for _, kind, *_ in one["timers"]} == {"accept", "arrive", "resolve"}
    assert len(one["evidence"]) > 0 and len(one["outbox"]) == len(script)


async def test_events_sharing_a_key_in_one_group_fold_into_one_incident(store: Store) -> None:
    await store.grids.replace([sample_grid()])
    offsets = [0, 40, 10, 90, 20]  # the fourth is the latest
    items: list[Recording] = [
        (crowd_event(T0 + timedelta(seconds=s)), crowd_opening("crowd", T0 + timedelta(seconds=s)), [])
        for s in offsets
    ]
    results = await store.events.record_many(items)
    incident_id = results[0][0]
    assert results == [(incident_id, True)] + [(incident_id, False)] * 4
    incident = await store.incidents.get(incident_id)
    assert (incident.event_count, incident.opened_at, incident.last_seen_at) == (
        5,
        T0,
        T0 + timedelta(seconds=90),
    )
    assert [e.to_state for e in await store.incidents.log(incident_id)] == [
        IncidentState.REPORTED,
        IncidentState.DISPATCHED,
    ]
    assert [t.kind for t in await store.timers.of_incident(incident_id)] == ["accept"]
    outbox = await store.outbox.pending()
    assert [o.topic for o in outbox] == ["incident.opened"] + ["incident.updated"] * 4
    assert [o.payload["event_id"] for o in outbox] == [str(e.id) for e, _, _ in items]

    # A later group folds into the incident now open: counted, never reopened or logged again.
    more = await store.events.record_many(
        [
            (crowd_event(T0 + timedelta(seconds=s)), crowd_opening("crowd", T0 + timedelta(seconds=s)), [])
            for s in (5, 6)
        ]
    )
    assert more == [(incident_id, False)] * 2
    assert (await store.incidents.get(incident_id)).event_count == 7
    assert len(await store.incidents.log(incident_id)) == 2


async def test_a_failing_group_stores_nothing(store: Store) -> None:
    await store.grids.replace([sample_grid()])
    stored = crowd_event()
    await store.events.record(stored, crowd_opening("old"))
    with pytest.raises(asyncpg.UniqueViolationError) as caught:
        await store.events.record_many(
            [(crowd_event(), crowd_opening("new"), []), (stored, crowd_opening("old"), [])]
        )
    assert caught.value.constraint_name == "events_pkey"
    counts = await store.pool.fetchrow(
        "SELECT (SELECT count(*) FROM incidents) AS incidents, (SELECT count(*) FROM events) AS events,"
        " (SELECT count(*) FROM outbox) AS outbox,"
        " (SELECT event_count FROM incidents WHERE dedup_key = 'old') AS old_count"
    )
    assert dict(counts) == {"incidents": 1, "events": 1, "outbox": 1, "old_count": 1}
    assert await store.events.record_many([]) == []


def _routed(key: str, seconds: int, assignee: str, **deadlines: timedelta) -> Recording:
    at = T0 + timedelta(seconds=seconds)
    opening = replace(
        crowd_opening(key, at),
        camera_id=f"cam-{seconds}",
        assignee_id=assignee,
        deadlines={kind: at + after for kind, after in deadlines.items()},
    )
    return (crowd_event(at), opening, [])


async def _opening(store: Store, incident_id: uuid.UUID) -> tuple[object, ...]:
    incident = await store.incidents.get(incident_id)
    timers = [(t.kind, t.due_at) for t in await store.timers.of_incident(incident_id)]
    return (
        incident.opened_at,
        incident.camera_id,
        incident.assignee_id,
        incident.accept_by,
        incident.resolve_by,
        incident.event_count,
        incident.last_seen_at,
        sorted(timers),
    )


async def test_an_event_captured_before_its_incident_opened_moves_the_opening_back(store: Store) -> None:
    """A redelivery can commit a key's events out of capture order: one at a time or in one group, the
    incident ends opened by its earliest event, with who was on duty then and deadlines from its capture."""
    await store.grids.replace([sample_grid()])
    late = {"resolve": timedelta(hours=4)}
    one_by_one = [
        await store.events.record(*_routed("apart", 60, "w002", **late)),
        await store.events.record(*_routed("apart", 0, "w001", **late)),
        await store.events.record(*_routed("apart", 30, "w003", **late)),
    ]
    incident_id = one_by_one[0][0]
    assert one_by_one == [(incident_id, True), (incident_id, False), (incident_id, False)]
    grouped = await store.events.record_many(
        [_routed("together", s, f"w00{n}", **late) for n, s in ((2, 60), (1, 0), (3, 30))]
    )
    in_order = await store.events.record_many([_routed("in-order", s, "w001", **late) for s in (0, 30, 60)])

    expected = (
        T0,
        "cam-0",
        "w001",
        T0 + timedelta(minutes=10),
        T0 + timedelta(hours=4),
        3,
        T0 + timedelta(seconds=60),
        [("accept", T0 + timedelta(minutes=10)), ("resolve", T0 + timedelta(hours=4))],
    )
    assert await _opening(store, incident_id) == expected
    assert await _opening(store, grouped[0][0]) == expected
    assert await _opening(store, in_order[0][0]) == expected
    assert grouped[0][1] and not grouped[1][1]  # "opened now" stays with the first event handled


async def test_once_someone_acted_an_earlier_event_moves_only_the_opening_time(store: Store) -> None:
    await store.grids.replace([sample_grid()])
    incident_id, _ = await store.events.record(*_routed("acted", 60, "w002"))
    incident = await store.incidents.get(incident_id)
    await store.pool.execute("UPDATE incidents SET version = version + 1 WHERE id = $1", incident_id)

    await store.events.record(*_routed("acted", 0, "w001"))
    after = await store.incidents.get(incident_id)
    assert after.opened_at == T0
    assert (after.assignee_id, after.camera_id, after.accept_by) == (
        "w002",
        "cam-60",
        incident.accept_by,
    )
    assert [t.due_at for t in await store.timers.of_incident(incident_id)] == [incident.accept_by]

    # A case waiting for review is not taken over by an event that would have filed it on its own.
    waiting = replace(
        _routed("waiting", 60, "w002")[1], state=IncidentState.REPORTED, accept_by=None, assignee_id=None
    )
    waiting_id, _ = await store.events.record(crowd_event(T0 + timedelta(seconds=60)), waiting, [])
    await store.events.record(*_routed("waiting", 0, "w001"))
    held = await store.incidents.get(waiting_id)
    assert (held.opened_at, held.state, held.accept_by, held.assignee_id) == (
        T0,
        IncidentState.REPORTED,
        None,
        None,
    )
