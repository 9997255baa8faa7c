"""Group commit: events from every camera are stored in shared transactions, one WAL flush per group."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from models.batching import MicroBatcher
from models.incidents import IncidentOpening
from models.records import Event, EvidenceBlob
from models.store import TRANSIENT_DB_ERRORS, NotFound, Recording
from models.store.events import EventRepository, EventUpdate


class EventWriter:
    """Queue events; one task stores everything queued meanwhile with ``EventRepository.record_many``.

    A group that meets a restarting database is retried whole; a group that fails for one event's fault
    (a duplicate id, a bad value) is stored one event at a time, so only that event's caller gets the error.
    """

    def __init__(
        self,
        events: EventRepository,
        *,
        max_batch: int = 256,
        attempts: int = 30,
        delay_s: float = 0.2,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._events = events
        self._attempts = attempts
        self._delay_s = delay_s
        self._sleep = sleep or asyncio.sleep
        self._groups: MicroBatcher[Recording, tuple[uuid.UUID, bool]] = MicroBatcher(
            self._write_group,
            self._write_one,
            name="event-writer",
            max_batch=max_batch,
            fail_batch_on=TRANSIENT_DB_ERRORS,
        )
        # Every episode's END (and UPDATE) refreshes its event: grouped too, or they would cost a commit each.
        self._updates: MicroBatcher[EventUpdate, bool] = MicroBatcher(
            self._update_group, self._update_one, name="event-updates", max_batch=max_batch
        )

    @property
    def batches(self) -> int:
        """Transactions written: ``events / batches`` is the group size achieved."""
        return self._groups.batches

    @property
    def events(self) -> int:
        return self._groups.items

    def start(self) -> None:
        self._groups.start()
        self._updates.start()

    async def update(
        self, event_id: uuid.UUID, person_count: int | None, confidence: float, ended_at: datetime | None
    ) -> None:
        """Refresh a stored event (``EventRepository.update``) in a group commit; returns once committed.

        Raises NotFound when the event is not stored: its START failed, or a bus delivered this first."""
        if not await self._updates.submit((event_id, person_count, confidence, ended_at)):
            raise NotFound(f"no event {event_id}")

    async def _update_group(self, items: list[EventUpdate]) -> list[bool]:
        missing = await self._events.update_many(items)
        return [item[0] not in missing for item in items]

    async def _update_one(self, item: EventUpdate) -> bool:
        try:
            await self._events.update(*item)
        except NotFound:
            return False
        return True

    async def record(
        self, event: Event, opening: IncidentOpening, evidence: Sequence[EvidenceBlob] = ()
    ) -> tuple[uuid.UUID, bool]:
        """Store the event as ``EventRepository.record_retrying`` would; returns once it is committed."""
        return await self._groups.submit((event, opening, evidence))

    async def record_batch(self, items: list[Recording]) -> list[tuple[uuid.UUID, bool] | BaseException]:
        """``record`` for a batch a caller already holds (the intake's fetch): one group commit, and no
        future or queue per event. An item that fails alone gets its exception in its place; a database
        that stays away fails every item."""
        return await self._groups.serve(items)

    async def update_batch(self, items: list[EventUpdate]) -> list[bool | BaseException]:
        """``update`` for a batch a caller already holds; False where the event is not stored."""
        return await self._updates.serve(items)

    async def aclose(self) -> None:
        await self._groups.aclose()
        await self._updates.aclose()

    async def _write_group(self, items: list[Recording]) -> list[tuple[uuid.UUID, bool]]:
        # A bus redelivers what it is not sure was stored (a lost ack, a township link back up): one
        # stored event in a group would fail the whole transaction and send every event of it down the
        # one-commit-each path, 10× slower. Looking the ids up first keeps redeliveries cheap.
        stored = await self._events.incidents_of([event.id for event, _, _ in items])
        fresh: list[Recording] = []
        seen: set[uuid.UUID] = set()
        for item in items:
            if item[0].id not in stored and item[0].id not in seen:
                seen.add(item[0].id)
                fresh.append(item)
        if len(fresh) < len(items):
            written = dict(zip([i[0].id for i in fresh], await self._record_many(fresh), strict=True))
            # A repeat within the group gets its first's answer, as if it had come after its commit.
            answers = {k: (v[0], False) for k, v in written.items()}
            first = {i[0].id for i in fresh}
            out: list[tuple[uuid.UUID, bool]] = []
            for event, _, _ in items:
                if event.id in stored:
                    out.append((stored[event.id], False))
                elif event.id in first:
                    out.append(written[event.id])
                    first.discard(event.id)
                else:
                    out.append(answers[event.id])
            return out
        return await self._record_many(items)

    async def _record_many(self, items: list[Recording]) -> list[tuple[uuid.UUID, bool]]:
        if not items:
            return []
        for attempt in range(1, self._attempts + 1):
            try:
                return await self._events.record_many(items)
            except TRANSIENT_DB_ERRORS:
                if attempt == self._attempts:
                    raise
                await self._sleep(self._delay_s)
        raise AssertionError("unreachable")

    async def _write_one(self, item: Recording) -> tuple[uuid.UUID, bool]:
        # The retrying path also answers an event stored by a commit whose reply was lost: its incident.
        event, opening, evidence = item
        return await self._events.record_retrying(
            event, opening, evidence, attempts=self._attempts, delay_s=self._delay_s, sleep=self._sleep
        )
