"""``retention:``: how long evidence of closed cases is kept, how much of it, and when clips stop."""

from __future__ import annotations

from pydantic import Field, field_validator

from models.config.base import ConfigModel
from models.records import EventKind


class RetentionSection(ConfigModel):
    """Evidence (snapshots, clips) of incidents that are no longer open is pruned oldest first by age and
    by quota; evidence of open incidents is never pruned. Every prune is in the audit trail."""

    days: dict[str, int] = Field(
        default_factory=lambda: {"default": 180},
        title="Days kept",
        description="Days evidence of a closed case is kept, by event kind (crowd, fire, occupation, …) "
        "with `default` for the rest; 0 keeps it for ever.",
    )
    quota_mb: float | None = Field(
        default=None,
        gt=0,
        title="Quota (MB)",
        description="Most evidence held in all; beyond it the oldest closed-case evidence goes first. "
        "Unset: no quota.",
    )
    min_free_mb: float = Field(
        default=1024,
        ge=0,
        title="Free space floor (MB)",
        description="Below this much free space where the embedded database lives, new clips are refused "
        "(events and snapshots still recorded) and an alert raised until space returns.",
    )
    every_minutes: float = Field(
        default=10, gt=0, le=24 * 60, title="Check every (minutes)", description="How often retention runs."
    )

    @field_validator("days")
    @classmethod
    def _known_kinds(cls, value: dict[str, int]) -> dict[str, int]:
        known = {k.value for k in EventKind} | {"default"}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown event kind {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        negative = sorted(k for k, v in value.items() if v < 0)
        if negative:
            raise ValueError(f"days must be 0 or more: {', '.join(negative)}")
        return value
