"""Closing the store never hangs on a connection a worker kept."""

from __future__ import annotations

import asyncio

from models.store import Store


async def test_a_connection_never_given_back_is_terminated_not_waited_for(db_url: str) -> None:
    store = await Store.connect(db_url)
    await store.pool.acquire()  # as a worker cancelled between acquire and release would leave it
    await asyncio.wait_for(store.close(timeout_s=0.5), 5)
    assert store.pool.is_closing()
