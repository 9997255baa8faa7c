"""A bounded, drop-oldest hand-over between a decoder and one asyncio consumer.

Analysis runs at 1–2 fps against cameras sending 10–25; a FIFO would make it work on ever older
pictures, so when the queue is full the oldest item goes and the newest always gets in.
Used on the event loop thread only (decoder threads post into it with call_soon_threadsafe).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class DropOldestQueue(Generic[T]):
    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self._items: deque[T] = deque(maxlen=maxsize)
        self._ready = asyncio.Event()
        self._closed = False
        #: Items pushed out unread because the consumer was behind.
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, item: T) -> None:
        """Add item, evicting the oldest one if full; ignored once closed."""
        if self._closed:
            return
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
        self._items.append(item)
        self._ready.set()

    def close(self) -> None:
        """No more items will come; get() drains what is left, then returns None."""
        self._closed = True
        self._ready.set()

    async def get(self) -> T | None:
        """The oldest item still queued, waiting for one if needed; None once closed and drained."""
        while not self._items:
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()
