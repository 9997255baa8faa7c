"""What evidence retention keeps: days per event kind, a quota, and the free-space floor below which new
clips are refused so that events and snapshots (small, and what a case cannot do without) still fit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from models.config.retention import RetentionSection

MB = 1_000_000


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    #: Days evidence of a case no longer open is kept, by event kind; "default" for the rest; 0: for ever.
    days: Mapping[str, int] = field(default_factory=lambda: {"default": 180})
    quota_bytes: int | None = None
    min_free_bytes: int = 1024 * MB
    every_s: float = 600.0

    def cutoffs(self, now: datetime) -> tuple[dict[str, datetime | None], datetime | None]:
        """Per named kind and for the rest: evidence created before the instant may go (None: kept)."""

        def cutoff(days: int) -> datetime | None:
            return now - timedelta(days=days) if days > 0 else None

        named = {kind: cutoff(days) for kind, days in self.days.items() if kind != "default"}
        return named, cutoff(self.days.get("default", 0))

    def clips_allowed(self, free_bytes: int | None) -> bool:
        """None: the free space cannot be seen (an external database); quota and errors still guard it."""
        return free_bytes is None or free_bytes >= self.min_free_bytes


DEFAULT_RETENTION = RetentionPolicy()


def retention_policy(section: RetentionSection) -> RetentionPolicy:
    return RetentionPolicy(
        days=dict(section.days),
        quota_bytes=round(section.quota_mb * MB) if section.quota_mb is not None else None,
        min_free_bytes=round(section.min_free_mb * MB),
        every_s=section.every_minutes * 60,
    )
