from __future__ import annotations

import asyncio

import pytest

from ingest.handoff import DropOldestQueue


async def test_full_queue_drops_the_oldest_and_keeps_the_newest() -> None:
    queue: DropOldestQueue[int] = DropOldestQueue(2)
    for item in range(5):
        queue.put(item)
    assert queue.dropped == 3
    assert [await queue.get(), await queue.get()] == [3, 4]


async def test_get_waits_for_a_put() -> None:
    queue: DropOldestQueue[str] = DropOldestQueue(1)
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)  # one turn of the loop: the getter runs up to its wait
    assert not getter.done()
    queue.put("frame")
    assert await asyncio.wait_for(getter, 1) == "frame"


async def test_close_drains_then_returns_none() -> None:
    queue: DropOldestQueue[int] = DropOldestQueue(3)
    queue.put(1)
    queue.close()
    queue.put(2)
    assert await queue.get() == 1
    assert await queue.get() is None


async def test_close_wakes_a_waiting_consumer() -> None:
    queue: DropOldestQueue[int] = DropOldestQueue(1)
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)  # one turn of the loop: the getter is waiting when the queue closes
    assert not getter.done()
    queue.close()
    assert await asyncio.wait_for(getter, 1) is None


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        DropOldestQueue[int](0)
