"""One micro-batch queue for every "many callers, one costly call" path (detector batches, group commit).

Callers ``submit`` an item and await its result; one task takes whatever is queued (up to
``max_batch``) and serves it with one call. It never waits to fill a batch: a lone item is served at
once, and only items that arrive while a call is in flight share the next one, so latency under light
load is a single item's while a busy process pays one call per batch instead of one per item.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    """Serve queued items in batches with ``serve_batch``; a failed batch is retried one item at a time.

    ``serve_batch`` returns one result per item, in order. When it raises, ``serve_one`` serves each item
    alone, so one bad item (a frame the back-end chokes on, an event the database refuses) fails only
    its own caller. Exceptions listed in ``fail_batch_on`` skip that retry and fail the whole batch:
    for errors that are nobody's item's fault (the database is gone).
    """

    def __init__(
        self,
        serve_batch: Callable[[list[T]], Awaitable[Sequence[R]]],
        serve_one: Callable[[T], Awaitable[R]],
        *,
        name: str,
        max_batch: int,
        fail_batch_on: tuple[type[BaseException], ...] = (),
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._serve_batch = serve_batch
        self._serve_one = serve_one
        self._name = name
        self._max_batch = max_batch
        self._fail_batch_on = fail_batch_on
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        #: Calls that served items (a batch, or one item after a failed batch) and the items they served:
        #: items / batches is the batch size achieved.
        self.batches = 0
        self.items = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def submit(self, item: T) -> R:
        self.start()
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, future))
        return await future

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            self._queue.get_nowait()[1].cancel()

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._serve(batch)
            except asyncio.CancelledError:
                # Stopping mid-call: the work may or may not have been done, so callers must not wait.
                for _, future in batch:
                    future.cancel()
                raise

    async def serve(self, items: list[T]) -> list[R | BaseException]:
        """Serve ``items`` now, as one queued batch would be: one outcome per item, in order, an item's
        exception in its place. For a caller that already holds a batch (a bus's fetch): no queue, no
        future per item."""
        if not items:
            return []
        try:
            results: list[R | BaseException] = list(await self._serve_batch(items))
        except self._fail_batch_on as exc:
            return [exc] * len(items)
        except Exception:
            logger.warning(
                "%s: a batch of %d failed; serving them one at a time", self._name, len(items), exc_info=True
            )
            return await self._one_by_one(items)
        self.batches += 1
        self.items += len(items)
        return results

    async def _serve(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        outcomes = await self.serve([item for item, _ in batch])
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            _settle(future, outcome)

    async def _one_by_one(self, items: list[T]) -> list[R | BaseException]:
        outcomes: list[R | BaseException] = []
        for item in items:
            try:
                outcomes.append(await self._serve_one(item))
            except Exception as exc:  # this item's caller gets the error, the others go on
                outcomes.append(exc)
                continue
            self.batches += 1
            self.items += 1
        return outcomes


def _settle(future: asyncio.Future[R], outcome: R | BaseException) -> None:
    # A caller cancelled while waiting has already settled its future.
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
