"""The outbox bell: rung after every commit that wrote outbox rows.

The feed relay and the notifier listen, so a change reaches the wall and the chat groups at once rather
than on their next poll; their polls remain for rows other processes write (CLI, a second centre).
"""

from __future__ import annotations

from collections.abc import Callable


class OutboxBell:
    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def listen(self, wake: Callable[[], None]) -> None:
        self._listeners.append(wake)

    def ring(self) -> None:
        for wake in self._listeners:
            wake()
