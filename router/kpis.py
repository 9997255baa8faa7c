"""KPIs (综合评价) per grid, community, township, worker or department over a range: pure, from stored rows.

Every figure is computed from three tables (models/store/kpis.py reads them, nothing else does): the
**cases** — incidents whose ``opened_at`` lies in the range [from, to) and whose ``unit_code`` is within
the caller's scope —, every ``incident_log`` entry of those cases (also entries written after the range:
a case is judged as it stands at ``as_of``, the moment of the query), and every ``timers`` row of them.

Grouping. grid: ``incidents.grid_code`` ("" when the case matched no grid); community: the first 12
digits of ``unit_code``; township: the first 9; worker: ``incidents.assignee_id``, whoever holds the case
now ("" unassigned); department: ``incidents.department``. The total row holds every case.

Per case:
- filed (立案): the log has an entry with ``to_state = 'dispatched'`` (filing, dispatching, a reassignment).
  first dispatch: the earliest such entry's ``at``.
- closed (结案): ``incidents.state = 'closed'``.
- resolved: the log has an entry with ``action = 'resolve'``.
- reworked (返工): the log has an entry with ``to_state = 'reopened'`` and ``from_state`` in
  (resolved, verified, closed): handling that was judged not done. Reopening a rejected case is not rework.
- late per step (step = accept, arrive, resolve, the ``timers.kind`` values): the case has a timer of that
  kind that was missed: it fired with ``outcome`` 'late' or 'escalated' (the escalator found the step not
  taken by ``due_at``), or the step that met it came after ``due_at`` (``timers.late``, also
  ``incident_log.late_steps``: migration 0011), or it is still live with ``due_at`` ≤ ``as_of``. A timer
  fired as 'stale', superseded by a hand-over or cancelled by a return is not a miss.
- time to accept: first ``action = 'accept'`` entry − first dispatch. time to arrive: first
  ``action = 'start'`` entry (work begins on site) − first ``action = 'depart'`` entry; a case started
  without departing (already on site) has no arrival time. time to resolve: first ``action = 'resolve'``
  entry − first dispatch. Each in whole seconds (rounded down); a case lacking either end has none.
- duplicates merged: max(``event_count`` − 1, 0), the repeat reports dedup folded into the case, plus 1
  when a person rejected the case as a duplicate (``action = 'reject'``, ``reason = 'duplicate'``). A twin
  folded by camera verification (``action = 'merge'``) is counted through the case it moved into (its
  events raise that case's ``event_count``; its own becomes 0), so it is not counted again.
- verified: the log has an entry with ``to_state = 'verified'``; by camera: one of those was taken by
  the camera's actor (router.permissions.CAMERA, which the verifier acts as).

Per group (each a count of cases, ratios as numerator / denominator):
- cases: the cases. filed, closed, resolved, reworked, verified: as above.
- closure rate (结案率) = closed / filed.
- on-time handling rate (按期处置率) = on time / due, where due (应处置) = filed cases that were resolved
  or are late for resolve, and on time = due cases resolved and not late for resolve.
- rework rate (返工率) = reworked / resolved.
- camera share = verified by camera / verified.
- late accept, late arrive, late resolve: filed cases late for that step.
- duplicates merged: the sum over the cases.
- p50 and p90 of each time: nearest rank over the group's cases that have that time: sort the n values
  ascending, take the ⌈p·n/100⌉-th. A ratio with denominator 0 and a percentile of no values are None.
"""

from __future__ import annotations

import enum
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from models.store.kpis import CaseRow, KpiRows, LogRow, TimerRow
from router.permissions import CAMERA

STEPS = ("accept", "arrive", "resolve")
_MISSED = frozenset({"late", "escalated"})
_HANDLED = frozenset({"resolved", "verified", "closed"})


class Grouping(enum.StrEnum):
    GRID = "grid"
    COMMUNITY = "community"
    TOWNSHIP = "township"
    WORKER = "worker"
    DEPARTMENT = "department"


@dataclass(frozen=True, slots=True)
class Ratio:
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        """The share to four decimals (what the page and the exports show); None without a denominator."""
        return round(self.numerator / self.denominator, 4) if self.denominator else None


@dataclass(frozen=True, slots=True)
class Spread:
    """A time's distribution over the group's cases that have it, in seconds."""

    count: int
    p50: int | None
    p90: int | None


@dataclass(frozen=True, slots=True)
class Kpi:
    key: str
    name: str
    cases: int
    filed: int
    closure: Ratio
    on_time: Ratio
    rework: Ratio
    camera: Ratio
    to_accept: Spread
    to_arrive: Spread
    to_resolve: Spread
    late_accept: int
    late_arrive: int
    late_resolve: int
    duplicates_merged: int


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What one case contributes, by the definitions above."""

    filed: bool
    closed: bool
    resolved: bool
    reworked: bool
    late: frozenset[str]
    to_accept: int | None
    to_arrive: int | None
    to_resolve: int | None
    duplicates: int
    verified: bool
    camera_verified: bool

    @property
    def due(self) -> bool:
        return self.filed and (self.resolved or "resolve" in self.late)

    @property
    def on_time(self) -> bool:
        return self.due and self.resolved and "resolve" not in self.late


def facts(case: CaseRow, log: Sequence[LogRow], timers: Sequence[TimerRow], as_of: datetime) -> CaseFacts:
    """One case's facts from its log entries and timers (any order)."""
    entries = sorted(log, key=lambda e: e.at)

    def first(action: str) -> datetime | None:
        return next((e.at for e in entries if e.action == action), None)

    dispatched = next((e.at for e in entries if e.to_state == "dispatched"), None)
    late = {t.kind for t in timers if _missed(t, as_of)}
    late.update(step for e in entries for step in e.late_steps)
    verifications = [e for e in entries if e.to_state == "verified"]
    rejected_as_duplicate = any(e.action == "reject" and e.reason == "duplicate" for e in entries)
    return CaseFacts(
        filed=dispatched is not None,
        closed=case.state == "closed",
        resolved=first("resolve") is not None,
        reworked=any(e.to_state == "reopened" and e.from_state in _HANDLED for e in entries),
        late=frozenset(late & set(STEPS)) if dispatched is not None else frozenset(),
        to_accept=_seconds(dispatched, first("accept")),
        to_arrive=_seconds(first("depart"), first("start")),
        to_resolve=_seconds(dispatched, first("resolve")),
        duplicates=max(case.event_count - 1, 0) + int(rejected_as_duplicate),
        verified=bool(verifications),
        camera_verified=any(e.actor == CAMERA.ident for e in verifications),
    )


def group_key(case: CaseRow, by: Grouping) -> str:
    if by is Grouping.GRID:
        return case.grid_code or ""
    if by is Grouping.COMMUNITY:
        return case.unit_code[:12] if len(case.unit_code) >= 12 else ""
    if by is Grouping.TOWNSHIP:
        return case.unit_code[:9] if len(case.unit_code) >= 9 else ""
    if by is Grouping.WORKER:
        return case.assignee_id or ""
    return case.department


def compute(rows: KpiRows, by: Grouping, as_of: datetime) -> tuple[list[Kpi], Kpi]:
    """The KPIs of each group (ordered by key) and of all the cases together."""
    log: dict[uuid.UUID, list[LogRow]] = defaultdict(list)
    for entry in rows.log:
        log[entry.incident_id].append(entry)
    timers: dict[uuid.UUID, list[TimerRow]] = defaultdict(list)
    for timer in rows.timers:
        timers[timer.incident_id].append(timer)
    groups: dict[str, list[CaseFacts]] = defaultdict(list)
    names: dict[str, str] = {}
    every: list[CaseFacts] = []
    for case in rows.cases:
        case_facts = facts(case, log[case.id], timers[case.id], as_of)
        key = group_key(case, by)
        groups[key].append(case_facts)
        every.append(case_facts)
        if by is Grouping.WORKER and case.assignee_name:
            names.setdefault(key, case.assignee_name)
    for key in groups:
        if by in (Grouping.GRID, Grouping.COMMUNITY, Grouping.TOWNSHIP):
            names[key] = rows.unit_names.get(key, key) if key else "无网格 no grid"
        elif by is Grouping.WORKER:
            names[key] = names.get(key, key) if key else "未指派 unassigned"
        else:
            names[key] = key
    return [summarise(key, names[key], groups[key]) for key in sorted(groups)], summarise(
        "", "合计 total", every
    )


def summarise(key: str, name: str, cases: Sequence[CaseFacts]) -> Kpi:
    filed = [c for c in cases if c.filed]
    resolved = [c for c in cases if c.resolved]
    verified = [c for c in cases if c.verified]
    due = [c for c in cases if c.due]
    return Kpi(
        key=key,
        name=name,
        cases=len(cases),
        filed=len(filed),
        closure=Ratio(sum(c.closed for c in filed), len(filed)),
        on_time=Ratio(sum(c.on_time for c in due), len(due)),
        rework=Ratio(sum(c.reworked for c in resolved), len(resolved)),
        camera=Ratio(sum(c.camera_verified for c in verified), len(verified)),
        to_accept=spread(c.to_accept for c in cases),
        to_arrive=spread(c.to_arrive for c in cases),
        to_resolve=spread(c.to_resolve for c in cases),
        late_accept=sum("accept" in c.late for c in cases),
        late_arrive=sum("arrive" in c.late for c in cases),
        late_resolve=sum("resolve" in c.late for c in cases),
        duplicates_merged=sum(c.duplicates for c in cases),
    )


def spread(values: Iterable[int | None]) -> Spread:
    present = sorted(v for v in values if v is not None)
    return Spread(len(present), percentile(present, 50), percentile(present, 90))


def percentile(ordered: Sequence[int], p: int) -> int | None:
    """Nearest rank: the ⌈p·n/100⌉-th smallest of n values."""
    if not ordered:
        return None
    rank = -(-p * len(ordered) // 100)
    return ordered[max(rank, 1) - 1]


def _missed(timer: TimerRow, as_of: datetime) -> bool:
    if timer.fired_at is not None:
        return timer.outcome in _MISSED
    if timer.late:
        return True
    return timer.cancelled_at is None and timer.due_at <= as_of


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None or end < start:
        return None
    return int((end - start).total_seconds())


#: The flat columns of the CSV and XLSX exports, in order; each a header and how to read it off a Kpi.
COLUMNS: tuple[str, ...] = (
    "key",
    "name",
    "cases",
    "filed",
    "closed",
    "closure_rate",
    "on_time",
    "due",
    "on_time_rate",
    "reworked",
    "resolved",
    "rework_rate",
    "camera_verified",
    "verified",
    "camera_share",
    "accept_p50_s",
    "accept_p90_s",
    "arrive_p50_s",
    "arrive_p90_s",
    "resolve_p50_s",
    "resolve_p90_s",
    "late_accept",
    "late_arrive",
    "late_resolve",
    "duplicates_merged",
)


def flat(kpi: Kpi) -> dict[str, str | int | float | None]:
    """One export row, keyed by COLUMNS."""
    return {
        "key": kpi.key,
        "name": kpi.name,
        "cases": kpi.cases,
        "filed": kpi.filed,
        "closed": kpi.closure.numerator,
        "closure_rate": kpi.closure.value,
        "on_time": kpi.on_time.numerator,
        "due": kpi.on_time.denominator,
        "on_time_rate": kpi.on_time.value,
        "reworked": kpi.rework.numerator,
        "resolved": kpi.rework.denominator,
        "rework_rate": kpi.rework.value,
        "camera_verified": kpi.camera.numerator,
        "verified": kpi.camera.denominator,
        "camera_share": kpi.camera.value,
        "accept_p50_s": kpi.to_accept.p50,
        "accept_p90_s": kpi.to_accept.p90,
        "arrive_p50_s": kpi.to_arrive.p50,
        "arrive_p90_s": kpi.to_arrive.p90,
        "resolve_p50_s": kpi.to_resolve.p50,
        "resolve_p90_s": kpi.to_resolve.p90,
        "late_accept": kpi.late_accept,
        "late_arrive": kpi.late_arrive,
        "late_resolve": kpi.late_resolve,
        "duplicates_merged": kpi.duplicates_merged,
    }
