"""Group commit: events from every camera loop are stored in shared transactions, one WAL flush per group."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from models.records import Event
from models.store import TRANSIENT_DB_ERRORS, EvidenceBlob, IncidentOpening, Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Pending:
    event: Event
    opening: IncidentOpening
    evidence: Sequence[EvidenceBlob]
    result: asyncio.Future[tuple[uuid.UUID, bool]]


class EventWriter:
    """Queue events; one task stores everything queued meanwhile with ``Store.record_events``.

    It never waits to fill a group: a lone event is written at once, and only events that arrive while a
    commit is in flight share the next one, so latency under light load is a single event's and a busy
    service pays one commit per group instead of one per event.
    """

    def __init__(
        self,
        store: Store,
        *,
        max_batch: int = 256,
        attempts: int = 30,
        delay_s: float = 0.2,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._max_batch = max_batch
        self._attempts = attempts
        self._delay_s = delay_s
        self._sleep = sleep or asyncio.sleep
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        #: Groups written (one transaction each) and the events they answered: events / batches is the
        #: group size achieved.
        self.batches = 0
        self.events = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="event-writer")

    async def record(
        self, event: Event, opening: IncidentOpening, evidence: Sequence[EvidenceBlob] = ()
    ) -> tuple[uuid.UUID, bool]:
        """Store the event as ``Store.record_event_retrying`` would; returns once it is committed."""
        self.start()
        result: asyncio.Future[tuple[uuid.UUID, bool]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(event, opening, evidence, result))
        return await result

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            self._queue.get_nowait().result.cancel()

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            except asyncio.CancelledError:
                # Stopping mid-commit: the transaction may or may not have landed, so callers must not wait.
                for item in batch:
                    item.result.cancel()
                raise

    async def _write(self, batch: list[_Pending]) -> None:
        items = [(p.event, p.opening, p.evidence) for p in batch]
        for attempt in range(1, self._attempts + 1):
            try:
                results = await self._store.record_events(items)
            except TRANSIENT_DB_ERRORS as exc:
                if attempt == self._attempts:
                    for item in batch:
                        _settle(item.result, exc)
                    return
                await self._sleep(self._delay_s)
            except Exception:  # one event's fault (a duplicate id, a bad value) aborts the whole group
                logger.warning("a group of %d events failed; storing them one at a time", len(batch))
                await self._one_by_one(batch)
                return
            else:
                self.batches += 1
                self.events += len(batch)
                for item, result in zip(batch, results, strict=True):
                    _settle(item.result, result)
                return

    async def _one_by_one(self, batch: list[_Pending]) -> None:
        # The retrying path also answers an event stored by a commit whose reply was lost: its incident.
        for item in batch:
            try:
                result = await self._store.record_event_retrying(
                    item.event,
                    item.opening,
                    item.evidence,
                    attempts=self._attempts,
                    delay_s=self._delay_s,
                    sleep=self._sleep,
                )
            except Exception as exc:  # this event's caller gets the error, the others go on
                _settle(item.result, exc)
                continue
            self.batches += 1
            self.events += 1
            _settle(item.result, result)


def _settle(
    future: asyncio.Future[tuple[uuid.UUID, bool]], outcome: tuple[uuid.UUID, bool] | BaseException
) -> None:
    # A caller cancelled while waiting has already settled its future.
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
