"""Hours of the day a rule applies in (a zone's prohibited hours, a crowd window), read in the site's zone.

Kept apart from the picture code so the rules that only need a clock do not import OpenCV.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from zoneinfo import ZoneInfo


def parse_hours(spans: Sequence[str]) -> tuple[tuple[time, time], ...]:
    """``["22:00-06:00", ...]`` → time spans; a span may wrap past midnight."""
    parsed = []
    for span in spans:
        start, sep, end = span.partition("-")
        if not sep:
            raise ValueError(f"prohibited hours {span!r}: expected HH:MM-HH:MM")
        parsed.append((time.fromisoformat(start.strip()), time.fromisoformat(end.strip())))
    return tuple(parsed)


def in_hours(at: datetime, spans: Sequence[tuple[time, time]], timezone: str) -> bool:
    if not spans:
        return True
    local = at.astimezone(ZoneInfo(timezone)).time()
    return any(
        (start <= local < end) if start < end else (local >= start or local < end) for start, end in spans
    )
