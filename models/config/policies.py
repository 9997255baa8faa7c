"""``policies:``: how the county handles what the cameras report. Every key is optional: left out, a key keeps
today's value (router/policies.py holds the defaults and turns this section into the router's policies).

One field per severity and per event kind, rather than a mapping keyed by name, so that a misspelt severity
or kind is an unknown key with a did-you-mean hint like any other (models/config/hints.py walks these
models), not a bare "invalid key".
"""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

from pydantic import Field, model_validator

from models.config.base import ConfigModel

SeverityName = Literal["low", "medium", "high", "critical"]
TierName = Literal["grid", "community", "township", "county"]


class TriageRow(ConfigModel):
    """One triage outcome; a key left out keeps the row this one overrides."""

    severity: SeverityName | None = Field(
        default=None, title="Severity", description="low, medium, high or critical."
    )
    tier: TierName | None = Field(
        default=None,
        title="Tier",
        description="Which level coordinates it: grid, community, township or county.",
    )
    department: str | None = Field(
        default=None, min_length=1, max_length=64, title="Department", description="Who owns it, e.g. 城管."
    )
    code: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$",
        title="Category code",
        description="The department's category code, e.g. GW-OCCUPY-01.",
    )


class KindTriage(TriageRow):
    """A kind's triage in a basic grid, and where an exclusive grid (market, school…) changes it."""

    exclusive: TriageRow | None = Field(
        default=None,
        title="In exclusive grids",
        description="Overrides inside any exclusive grid (default: crowd one severity higher, others alike).",
    )
    exclusive_types: dict[str, TriageRow] = Field(
        default_factory=dict,
        title="By exclusive type",
        description="Overrides inside exclusive grids of one exclusive_type (the grids file's), e.g. school.",
    )


class TriageSection(ConfigModel):
    """Severity, tier, department and category code per event kind; today's table for a kind left out."""

    crowd: KindTriage | None = None
    fire: KindTriage | None = None
    smoke: KindTriage | None = None
    occupation: KindTriage | None = None
    fall: KindTriage | None = None
    line_crossing: KindTriage | None = None
    camera_offline: KindTriage | None = None
    camera_tamper: KindTriage | None = None
    link_down: KindTriage | None = None


class DeadlineRow(ConfigModel):
    """Minutes allowed for each step of a case of one severity, counted from its dispatch."""

    accept_minutes: float | None = Field(
        default=None, gt=0, le=60 * 24 * 30, title="Accept within", description="Minutes to accept."
    )
    arrive_minutes: float | None = Field(
        default=None, gt=0, le=60 * 24 * 30, title="Arrive within", description="Minutes to be on site."
    )
    resolve_minutes: float | None = Field(
        default=None, gt=0, le=60 * 24 * 30, title="Resolve within", description="Minutes to resolve."
    )

    @model_validator(mode="after")
    def _in_step_order(self) -> DeadlineRow:
        given = [
            (name, value)
            for name, value in (
                ("accept_minutes", self.accept_minutes),
                ("arrive_minutes", self.arrive_minutes),
                ("resolve_minutes", self.resolve_minutes),
            )
            if value is not None
        ]
        for (earlier, before), (later, after) in pairwise(given):
            if before > after:
                raise ValueError(
                    f"{earlier} ({before:g}) is later than {later} ({after:g}): steps come in order"
                )
        return self


class DeadlinesSection(ConfigModel):
    """Step deadlines per severity; today's windows for a severity or step left out."""

    low: DeadlineRow | None = None
    medium: DeadlineRow | None = None
    high: DeadlineRow | None = None
    critical: DeadlineRow | None = None


class FilingRule(ConfigModel):
    file_above: float = Field(
        ge=0,
        le=1,
        title="File at or above",
        description="Detection confidence (0–1) at or above which a case is filed and dispatched as it "
        "opens; below it the case opens as reported and waits for a leader or command to file or reject it.",
    )


class FilingSection(ConfigModel):
    """立案: which detections are filed at once and which wait for review; a kind left out is always filed."""

    crowd: FilingRule | None = None
    fire: FilingRule | None = None
    smoke: FilingRule | None = None
    occupation: FilingRule | None = None
    fall: FilingRule | None = None
    line_crossing: FilingRule | None = None
    camera_offline: FilingRule | None = None
    camera_tamper: FilingRule | None = None
    link_down: FilingRule | None = None


class VerificationSection(ConfigModel):
    """Camera-verified closure: minutes a resolved zone must stay clear; 0 leaves the kind to a person."""

    crowd: float | None = Field(
        default=None, ge=0, le=1_440, title="Crowd", description="Minutes (today 10)."
    )
    occupation: float | None = Field(
        default=None, ge=0, le=1_440, title="Occupation", description="Minutes (today 15)."
    )
    fire: float | None = Field(default=None, ge=0, le=1_440, title="Fire", description="Minutes (today 5).")
    smoke: float | None = Field(default=None, ge=0, le=1_440, title="Smoke", description="Minutes (today 5).")


_HOURS = r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$"


class CrowdWindowRow(ConfigModel):
    """Crowd thresholds during one local time-of-day span; a key left out keeps the zone's own value."""

    hours: str = Field(
        pattern=_HOURS,
        title="Hours",
        description='Local "HH:MM-HH:MM" (the site\'s time zone; may wrap past midnight), e.g. 05:00-09:00.',
    )
    min_persons: int | None = Field(
        default=None, gt=0, le=100_000, title="Minimum persons", description="People that make a crowd."
    )
    min_density_per_m2: float | None = Field(
        default=None,
        gt=0,
        le=10,
        title="Minimum density",
        description="Persons per m² of the zone's ground (needs the camera's calibration).",
    )
    min_seconds: float | None = Field(
        default=None,
        gt=0,
        le=86_400,
        title="Minimum seconds",
        description="How long the crowd must stay before an event starts.",
    )

    @model_validator(mode="after")
    def _sets_something(self) -> CrowdWindowRow:
        if self.min_persons is None and self.min_density_per_m2 is None and self.min_seconds is None:
            raise ValueError("set at least one of min_persons, min_density_per_m2, min_seconds")
        return self


class PoliciesSection(ConfigModel):
    triage: TriageSection = Field(
        default_factory=TriageSection,
        title="Triage",
        description="Per event kind: severity, tier, department and category code.",
    )
    deadlines: DeadlinesSection = Field(
        default_factory=DeadlinesSection,
        title="Deadlines",
        description="Per severity: minutes to accept, arrive and resolve.",
    )
    filing: FilingSection = Field(
        default_factory=FilingSection,
        title="Filing",
        description="Per event kind: the confidence at or above which a case is filed without review.",
    )
    verification: VerificationSection = Field(
        default_factory=VerificationSection,
        title="Camera verification",
        description="Per kind: minutes a resolved zone must stay clear before the camera verifies the case.",
    )
    offline_after_seconds: float = Field(
        default=300.0,
        gt=0,
        le=86_400,
        title="Offline after",
        description="Seconds a camera may be silent before a maintenance incident opens for it.",
    )
    dedup_cell_m: float = Field(
        default=100.0,
        ge=1,
        le=10_000,
        title="Dedup cell",
        description="Metres of the ground square within which events of one kind fold into one incident.",
    )
    snap_m: float = Field(
        default=50.0,
        ge=0,
        le=1_000,
        title="Snap distance",
        description="Metres outside every grid within which a point still goes to the nearest grid "
        "(0: never; beyond it, the township or county owns it).",
    )
    false_alarm_hold_hours: float = Field(
        default=24.0,
        ge=0,
        le=8_760,
        title="False-alarm hold",
        description="Hours a camera ignores fire/smoke in the region of an incident rejected as a false "
        "alarm (误报); elsewhere in the picture it still reports. 0: never ignore.",
    )
    crowd_thresholds: dict[str, list[CrowdWindowRow]] = Field(
        default_factory=dict,
        title="Crowd thresholds by grid kind",
        description="Per grid kind (an exclusive grid's exclusive_type such as market or school, else "
        "exclusive or basic) the crowd thresholds of its crowd zones by local time of day; the first "
        "window holding the time wins, outside every window the zone's own thresholds apply.",
    )
