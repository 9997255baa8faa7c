"""Polling helpers for tests that watch a live source change state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def wait_until(
    predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.05
) -> float | None:
    """Seconds it took for predicate to hold, or None if it did not within timeout_s."""
    started = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            return None
        await asyncio.sleep(interval_s)
