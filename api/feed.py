"""The live feed: outbox rows become messages for every connected client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from models.store import Store

logger = logging.getLogger(__name__)

Message = dict[str, Any]


class Broadcaster:
    """Fan messages out to subscribers; a slow subscriber loses its oldest messages, never blocks others."""

    def __init__(self, queue_size: int = 256) -> None:
        self._subscribers: set[asyncio.Queue[Message]] = set()
        self._queue_size = queue_size

    def publish(self, message: Message) -> None:
        for queue in list(self._subscribers):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(message)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Message]]:
        queue: asyncio.Queue[Message] = asyncio.Queue(self._queue_size)
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

    ``wake()`` is called right after a commit so the feed is immediate; the poll interval only
    bounds the delay for rows written by another process (CLI, a second node).
    """

    def __init__(
        self,
        store: Store,
        broadcaster: Broadcaster,
        render: Callable[[dict[str, Any]], Awaitable[Message | None]],
        *,
        poll_s: float = 1.0,
    ) -> None:
        self._store = store
        self._broadcaster = broadcaster
        self._render = render
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
        rows = await self._store.pending_outbox()
        for row in rows:
            message = await self._render(row)
            if message is not None:
                self._broadcaster.publish(message)
        await self._store.mark_delivered([row["id"] for row in rows])
        self.delivered += len(rows)
        return len(rows)
