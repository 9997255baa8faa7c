"""Injected time: everything that measures dwell, hysteresis, deadlines or duty takes a Clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock tests and replays move by hand."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("ManualClock needs timezone-aware instants")
        self._now = instant


class OffsetClock:
    """Another clock, ``offset_s`` ahead (behind, if negative): a machine whose clock has drifted."""

    def __init__(self, base: Clock, offset_s: float) -> None:
        self._base = base
        self.offset = timedelta(seconds=offset_s)

    def now(self) -> datetime:
        return self._base.now() + self.offset
