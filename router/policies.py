"""The county's policies as the router runs them, built from the site file's ``policies:`` section.

Today's constants are the defaults (``DEFAULT_POLICIES``): a site file without the section, or with only some
of its keys, behaves exactly as before for everything it leaves out. The section's schema checks each value
alone; ``policy_problems`` checks what only the merged result can show (a step window shortened below the
default of the step before it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from itertools import pairwise
from types import MappingProxyType

from models.config import PoliciesFile, PoliciesSection, SiteConfig
from models.config.policies import DeadlineRow, KindTriage, TriageRow
from models.records import CrowdWindow, EventKind, GridKind, IncidentState, Severity, Tier, Triage
from router.crowd_thresholds import CrowdThresholds
from router.deadlines import DEFAULT_POLICY, DeadlinePolicy, StepWindows
from router.imports.problems import Problem
from router.triage import DEFAULT_TABLE, TriageTable
from router.verification import CLEAR_WINDOWS

#: Today's values, each the default of the key that overrides it.
DEFAULT_OFFLINE_AFTER_S = 300.0
DEFAULT_DEDUP_CELL_M = 100.0
DEFAULT_SNAP_M = 50.0


@dataclass(frozen=True, slots=True)
class FilingPolicy:
    """立案: a detection at or above its kind's ``file_above`` is filed and dispatched as it opens; one
    below opens as reported and waits for a reviewer. A kind not named is always filed (today's behaviour)."""

    file_above: Mapping[EventKind, float] = field(default_factory=lambda: MappingProxyType({}))

    def opening_state(self, kind: EventKind, confidence: float) -> IncidentState:
        if confidence < self.file_above.get(kind, 0.0):
            return IncidentState.REPORTED
        return IncidentState.DISPATCHED


DEFAULT_FILING = FilingPolicy()


@dataclass(frozen=True, slots=True)
class Policies:
    triage: TriageTable = DEFAULT_TABLE
    deadlines: DeadlinePolicy = DEFAULT_POLICY
    filing: FilingPolicy = DEFAULT_FILING
    #: Seconds a camera may be silent before a maintenance incident opens (the analysis role's).
    offline_after_s: float = DEFAULT_OFFLINE_AFTER_S
    dedup_cell_m: float = DEFAULT_DEDUP_CELL_M
    snap_m: float = DEFAULT_SNAP_M
    #: How long the camera must see a resolved case's zone clear before it verifies it, per kind.
    clear_windows: Mapping[EventKind, timedelta] = field(default_factory=lambda: CLEAR_WINDOWS)
    #: How long a camera ignores fire/smoke where a person dismissed a false alarm.
    false_alarm_hold: timedelta = timedelta(hours=24)
    #: Crowd thresholds by grid kind and local time of day (router/crowd_thresholds.py); empty: the zones'.
    crowd_thresholds: CrowdThresholds = field(default_factory=lambda: MappingProxyType({}))


DEFAULT_POLICIES = Policies()


class PolicyRejected(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.where}: {p.message}" for p in problems))


def _row(base: Triage, row: TriageRow | None) -> Triage:
    if row is None:
        return base
    return Triage(
        Severity[row.severity.upper()] if row.severity is not None else base.severity,
        Tier(row.tier) if row.tier is not None else base.tier,
        row.department if row.department is not None else base.department,
        row.code if row.code is not None else base.category_code,
    )


def triage_table(section: PoliciesSection, base: TriageTable = DEFAULT_TABLE) -> TriageTable:
    """The triage table the section describes, over ``base`` for every row it leaves out."""
    rows: dict[EventKind, KindTriage] = {
        kind: row for kind in EventKind if (row := getattr(section.triage, kind.value)) is not None
    }
    basic = {kind: _row(base.triage(kind, GridKind.BASIC), row) for kind, row in rows.items()}
    table = base.with_overrides(basic)
    # An explicit exclusive row is merged over the kind's (possibly overridden) basic row and replaces the
    # default one-severity raise; a kind without one keeps the raise, now from its new basic row.
    exclusive = {
        kind: _row(basic[kind], row.exclusive) for kind, row in rows.items() if row.exclusive is not None
    }
    table = table.with_exclusive(exclusive)
    by_type = {
        (kind, name): _row(table.triage(kind, GridKind.EXCLUSIVE), typed)
        for kind, row in rows.items()
        for name, typed in row.exclusive_types.items()
    }
    return table.with_exclusive_types(by_type)


def _windows(severity: Severity, row: DeadlineRow | None, base: StepWindows) -> StepWindows:
    if row is None:
        return base

    def minutes(value: float | None, default: timedelta) -> timedelta:
        return default if value is None else timedelta(minutes=value)

    return StepWindows(
        minutes(row.accept_minutes, base.accept),
        minutes(row.arrive_minutes, base.arrive),
        minutes(row.resolve_minutes, base.resolve),
    )


def _deadline_problems(windows: Mapping[Severity, StepWindows]) -> list[Problem]:
    problems = []
    for severity, w in windows.items():
        steps = [("accept", w.accept), ("arrive", w.arrive), ("resolve", w.resolve)]
        for (earlier, before), (later, after) in pairwise(steps):
            if before > after:
                problems.append(
                    Problem(
                        f"policies.deadlines.{severity.name.lower()}",
                        f"{earlier} within {before.total_seconds() / 60:g} min is later than {later} within "
                        f"{after.total_seconds() / 60:g} min (keys left out keep today's value): "
                        "steps come in order",
                    )
                )
    return problems


def build_policies(section: PoliciesSection) -> Policies:
    """The router's policies from a valid section; PolicyRejected when the merged windows are out of order."""
    windows = {
        severity: _windows(
            severity, getattr(section.deadlines, severity.name.lower()), DEFAULT_POLICY.windows[severity]
        )
        for severity in Severity
    }
    problems = _deadline_problems(windows)
    if problems:
        raise PolicyRejected(problems)
    rules = {kind: getattr(section.filing, kind.value) for kind in EventKind}
    filing = {kind: rule.file_above for kind, rule in rules.items() if rule is not None}
    return replace(
        DEFAULT_POLICIES,
        triage=triage_table(section),
        deadlines=DeadlinePolicy(windows),
        filing=FilingPolicy(MappingProxyType(filing)),
        offline_after_s=section.offline_after_seconds,
        dedup_cell_m=section.dedup_cell_m,
        snap_m=section.snap_m,
        clear_windows=_clear_windows(section),
        false_alarm_hold=timedelta(hours=section.false_alarm_hold_hours),
        crowd_thresholds=_crowd_thresholds(section),
    )


def _crowd_thresholds(section: PoliciesSection) -> CrowdThresholds:
    return MappingProxyType(
        {
            kind: tuple(
                CrowdWindow(
                    row.hours,
                    min_persons=row.min_persons,
                    min_density_per_m2=row.min_density_per_m2,
                    min_seconds=row.min_seconds,
                )
                for row in rows
            )
            for kind, rows in section.crowd_thresholds.items()
        }
    )


def _clear_windows(section: PoliciesSection) -> Mapping[EventKind, timedelta]:
    windows = dict(CLEAR_WINDOWS)
    for kind in (EventKind.CROWD, EventKind.OCCUPATION, EventKind.FIRE, EventKind.SMOKE):
        minutes = getattr(section.verification, kind.value)
        if minutes == 0:
            windows.pop(kind)  # a person verifies this kind
        elif minutes is not None:
            windows[kind] = timedelta(minutes=minutes)
    return MappingProxyType(windows)


def policy_problems(config: SiteConfig | PoliciesFile) -> list[Problem]:
    """What is wrong with the file's policies beyond the schema; pass it to config_problems(checks=...)."""
    try:
        build_policies(config.policies)
    except PolicyRejected as rejected:
        return rejected.problems
    return []
