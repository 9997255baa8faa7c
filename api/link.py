"""The event interface carried in one process: a bounded asyncio queue from analysis to the centre.

``serve`` and ``demo`` run both roles in one process and join them with this; a message bus can carry the
same records (models/link.py) between machines. Commands the other way are plain calls on the analysis
node, which is itself a CommandSink.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from models.link import AnalysisMessage

#: Messages waiting for the centre; past this the cameras wait (backpressure), nothing is dropped.
QUEUE_SIZE = 1024


class LinkClosed(RuntimeError):
    pass


class InProcessLink:
    """analysis → centre. ``publish`` is the analysis side's EventSink; ``batches`` the centre's intake."""

    def __init__(self, maxsize: int = QUEUE_SIZE) -> None:
        self._queue: asyncio.Queue[AnalysisMessage | None] = asyncio.Queue(maxsize)
        self._closed = False

    async def publish(self, message: AnalysisMessage) -> None:
        if self._closed:
            raise LinkClosed("the centre no longer takes messages")
        await self._queue.put(message)

    async def batches(self, most: int = QUEUE_SIZE) -> AsyncIterator[list[AnalysisMessage]]:
        """Every message published, in order, until the link is closed and drained: everything waiting (up
        to ``most``) at once, for ``Intake.run_batches``; each message is ``settled`` once handled."""
        while True:
            first = await self._queue.get()
            if first is None:
                self._queue.task_done()
                return
            batch = [first]
            ended = False
            while len(batch) < most and not self._queue.empty():
                message = self._queue.get_nowait()
                if message is None:
                    ended = True
                    break
                batch.append(message)
            yield batch
            if ended:
                self._queue.task_done()
                return

    async def settled(self, message: AnalysisMessage, error: BaseException | None) -> None:
        """The consumer's word that a message it took is handled (stored, or failed and logged)."""
        self._queue.task_done()

    async def join(self) -> None:
        """Return once every message published so far is handled."""
        await self._queue.join()

    async def close(self) -> None:
        """Refuse new messages; the consumer's stream ends after those already queued."""
        if not self._closed:
            self._closed = True
            await self._queue.put(None)
