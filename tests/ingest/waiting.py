"""Waiting for a live source, a subscriber or a test peer to change: told by events, not found by polling.

``Changes`` is rung by whatever is watched (a camera's health hook, a consumer that got a frame, the test
event service) and re-checks a waiter's predicate on each ring; a timeout only bounds how long a real
peer (the RTSP server, a socket) may take. ``wait_until`` polls, for counters nothing rings for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ingest.health import CameraHealth


class Changes:
    """Rung on the event loop thread whenever something watched may have changed."""

    def __init__(self) -> None:
        self._rung = asyncio.Event()

    def ring(self, *_: object) -> None:
        """Wake the waiters (any arguments are ignored, so this serves as a hook or callback)."""
        self._rung.set()

    async def until(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Whether ``predicate`` held within ``timeout_s``: checked now and on each ring, not on a timer."""

        async def settled() -> None:
            while not predicate():
                # Nothing runs between the check and the clear (one thread, no await): no ring is lost.
                self._rung.clear()
                await self._rung.wait()

        try:
            await asyncio.wait_for(settled(), timeout_s)
        except TimeoutError:
            return False
        return True


def health_changes(health: CameraHealth) -> Changes:
    """Rung on every state transition of ``health`` (its on_change hook runs on the event loop)."""
    changes = Changes()
    health.on_change = changes.ring
    return changes


async def wait_until(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.05) -> bool:
    """Whether ``predicate`` held within ``timeout_s``, polled: only for what nothing rings for (a source's
    reconnect counter, which changes without a state transition)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(interval_s)
    return True
