"""The live feed: committed outbox rows become messages for every connected page."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from models.incidents import Incident
from models.store.incidents import IncidentRepository
from models.store.outbox import OutboxRepository

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FeedMessage:
    #: The outbox row's topic: incident.opened, incident.updated, incident.escalated, …
    topic: str
    outbox_id: int
    #: The incident as it stands when the row is delivered.
    incident: Incident


class Broadcaster:
    """Fan messages out to subscribers; a slow subscriber loses its oldest messages, never blocks others."""

    def __init__(self, queue_size: int = 256) -> None:
        self._subscribers: set[asyncio.Queue[FeedMessage]] = set()
        self._queue_size = queue_size

    def publish(self, message: FeedMessage) -> None:
        for queue in list(self._subscribers):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(message)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[FeedMessage]]:
        queue: asyncio.Queue[FeedMessage] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)


class OutboxRelay:
    """Deliver committed outbox rows to the broadcaster, in order, marking each delivered.

    Woken through the OutboxBell right after a commit, so the feed is immediate; the poll interval only
    bounds the delay for rows written by another process (CLI, a second node).
    """

    def __init__(
        self,
        outbox: OutboxRepository,
        incidents: IncidentRepository,
        broadcaster: Broadcaster,
        *,
        poll_s: float = 1.0,
    ) -> None:
        self._outbox = outbox
        self._incidents = incidents
        self._broadcaster = broadcaster
        self._poll_s = poll_s
        self._wakeup = asyncio.Event()
        self.delivered = 0

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            try:
                await self.deliver_pending()
            except Exception:  # the feed must outlive a transient database error
                logger.exception("outbox delivery failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._poll_s)
            self._wakeup.clear()

    async def deliver_pending(self) -> int:
        rows = await self._outbox.pending()
        # One read per incident and pass: a busy camera folds hundreds of events into one case, each an
        # outbox row, and the case as it stands now is what every one of them announces.
        read: dict[uuid.UUID, Incident] = {}
        for row in rows:
            if row.incident_id is not None:
                if row.incident_id not in read:
                    read[row.incident_id] = await self._incidents.get(row.incident_id)
                self._broadcaster.publish(FeedMessage(row.topic, row.id, read[row.incident_id]))
        await self._outbox.mark_delivered([row.id for row in rows])
        self.delivered += len(rows)
        return len(rows)
