"""EventWriter: concurrent events share commits, and one bad event fails only its own caller."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

import asyncpg
import pytest

from models.store import NotFound, Recording, Store
from models.store.events import EventRepository
from router.centre.writer import EventWriter
from tests.models.store.samples import crowd_event, crowd_opening, sample_grid


@pytest.fixture
async def writer(store: Store) -> AsyncIterator[EventWriter]:
    await store.grids.replace([sample_grid()])
    w = EventWriter(store.events)
    yield w
    await w.aclose()


async def _stored_events(store: Store) -> int:
    count: int = await store.pool.fetchval("SELECT count(*) FROM events")
    return count


async def test_concurrent_events_share_transactions_and_all_are_stored(
    store: Store, writer: EventWriter
) -> None:
    results = await asyncio.gather(
        *(writer.record(crowd_event(), crowd_opening(f"k{n % 10}")) for n in range(100))
    )
    assert writer.events == 100 and writer.batches <= 10
    assert await _stored_events(store) == 100
    assert len({incident_id for incident_id, _ in results}) == 10
    assert sum(opened for _, opened in results) == 10
    counts = await store.pool.fetch("SELECT event_count FROM incidents")
    assert [r["event_count"] for r in counts] == [10] * 10


async def test_one_event_at_a_time_is_written_at_once(store: Store, writer: EventWriter) -> None:
    for n in range(3):
        await writer.record(crowd_event(), crowd_opening(f"k{n}"))
    # Nothing waits to fill a group: under light load each event is its own commit.
    assert (writer.batches, writer.events) == (3, 3)


async def test_a_stored_event_again_answers_its_incident_and_the_others_are_stored(
    store: Store, writer: EventWriter
) -> None:
    again = crowd_event()
    first, _ = await store.events.record(again, crowd_opening("old"))
    fresh = [crowd_event() for _ in range(5)]
    results = await asyncio.gather(
        *(writer.record(e, crowd_opening("new")) for e in fresh[:3]),
        writer.record(again, crowd_opening("old")),
        *(writer.record(e, crowd_opening("new")) for e in fresh[3:]),
    )
    # As store.events.record_retrying: a retried event whose first commit landed gets that incident back.
    assert results[3] == (first, False)
    new_ids = {incident_id for i, (incident_id, _) in enumerate(results) if i != 3}
    assert len(new_ids) == 1 and new_ids != {first}
    assert [opened for _, opened in results] == [True, False, False, False, False, False]
    assert await _stored_events(store) == 6
    assert (await store.incidents.get(first)).event_count == 1
    # The stored event was looked up, not written: the others still shared one commit, none went one at a
    # time (before, the duplicate failed the group and each event took a transaction of its own).
    assert (writer.batches, writer.events) == (1, 6)


async def test_redeliveries_keep_group_commit(store: Store, writer: EventWriter) -> None:
    """A bus redelivering stored events (and one twice in a group) costs no commit per event."""
    stored = [crowd_event() for _ in range(20)]
    firsts = [await store.events.record(e, crowd_opening(f"s{n}")) for n, e in enumerate(stored)]
    fresh = [crowd_event() for _ in range(40)]
    twice = fresh[7]
    mixed = [*fresh[:20], *stored, twice, *fresh[20:]]
    results = await asyncio.gather(
        *(writer.record(e, crowd_opening("new" if e in fresh else "s")) for e in mixed)
    )
    assert results[20:40] == [(incident, False) for incident, _ in firsts]
    assert results[40] == (results[7][0], False)  # the repeat in the group answers its first
    assert await _stored_events(store) == 60
    assert (await store.incidents.get(results[0][0])).event_count == 40
    assert writer.batches <= 3, writer.batches  # the lone first write, then shared groups


async def test_a_bad_event_fails_only_its_caller(store: Store, writer: EventWriter) -> None:
    bad = replace(crowd_opening("bad"), deadlines={"respond": crowd_opening().at})  # no such timer kind
    outcomes = await asyncio.gather(
        writer.record(crowd_event(), crowd_opening("a")),
        writer.record(crowd_event(), bad),
        writer.record(crowd_event(), crowd_opening("b")),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], asyncpg.CheckViolationError)
    assert all(isinstance(o, tuple) and o[1] for o in (outcomes[0], outcomes[2]))
    assert await _stored_events(store) == 2
    keys = await store.pool.fetch("SELECT dedup_key FROM incidents ORDER BY dedup_key")
    assert [r["dedup_key"] for r in keys] == ["a", "b"]


class _FlakyEvents(EventRepository):
    """Loses the connection on the first group, as a restarting server does."""

    failures = 1

    async def record_many(self, items: Sequence[Recording]) -> list[tuple[uuid.UUID, bool]]:
        if self.failures:
            self.failures -= 1
            raise ConnectionResetError("server closed the connection")
        return await super().record_many(items)


async def test_a_transient_error_retries_the_group(store: Store) -> None:
    await store.grids.replace([sample_grid()])
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    writer = EventWriter(_FlakyEvents(store.pool), delay_s=0.5, sleep=pause)
    try:
        results = await asyncio.gather(*(writer.record(crowd_event(), crowd_opening("k")) for _ in range(4)))
    finally:
        await writer.aclose()
    assert pauses == [0.5]
    assert [opened for _, opened in results] == [True, False, False, False]
    assert await _stored_events(store) == 4


async def test_updates_share_commits_and_keep_the_peaks(store: Store, writer: EventWriter) -> None:
    events = [crowd_event() for _ in range(30)]
    for event in events:
        await writer.record(event, crowd_opening("k"))
    ended = events[0].started_at
    # Two refreshes of event 0 in one group: the peak count and the best confidence both survive.
    await asyncio.gather(
        writer.update(events[0].id, 40, 0.5, None),
        writer.update(events[0].id, 12, 0.95, ended),
        *(writer.update(e.id, 9, 0.7, ended) for e in events[1:]),
    )
    assert writer._updates.batches <= 2  # 31 refreshes, not a commit each
    rows = {
        r["id"]: r
        for r in await store.pool.fetch("SELECT id, person_count, confidence, ended_at FROM events")
    }
    first = rows[events[0].id]
    assert first["person_count"] == 40 and first["confidence"] == pytest.approx(0.95)
    assert first["ended_at"] == ended
    assert all(rows[e.id]["ended_at"] == ended for e in events)
    assert all(rows[e.id]["person_count"] >= 9 for e in events[1:])


async def test_an_update_before_its_event_is_stored_says_so(store: Store, writer: EventWriter) -> None:
    """A bus may deliver an END before its START (a START's commit cut off and redelivered later): the
    writer says NotFound, for the link to redeliver it, instead of refreshing nothing and acking."""
    stored, missing = crowd_event(), crowd_event()
    await writer.record(stored, crowd_opening("k"))
    outcomes = await asyncio.gather(
        writer.update(stored.id, 7, 0.9, None),
        writer.update(missing.id, 7, 0.9, None),
        return_exceptions=True,
    )
    assert outcomes[0] is None and isinstance(outcomes[1], NotFound)
    with pytest.raises(NotFound):
        await store.events.update(missing.id, 7, 0.9, None)
    assert await store.pool.fetchval("SELECT person_count FROM events WHERE id = $1", stored.id) == 7
