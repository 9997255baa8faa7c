"""The KPI definitions of router/kpis.py on single cases: what counts as late, due, rework, a duplicate."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from models.store.kpis import CaseRow, LogRow, TimerRow
from router.kpis import Ratio, facts, percentile

T = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
ID = uuid.uuid4()


def case(state: str = "dispatched", event_count: int = 1) -> CaseRow:
    return CaseRow(
        ID, T, state, "379901001001001", "379901001001001", "综治/公安", "w001", "王芳", event_count
    )


def entry(minute: int, action: str, to_state: str, from_state: str | None = "x", **kw: object) -> LogRow:
    at = T + timedelta(minutes=minute)
    actor = str(kw.get("actor", "w001"))
    return LogRow(ID, from_state, to_state, action, actor, at, kw.get("reason"), ())  # type: ignore[arg-type]


def timer(kind: str, due_min: int, **kw: object) -> TimerRow:
    return TimerRow(ID, kind, T + timedelta(minutes=due_min), kw.get("fired_at"), kw.get("cancelled_at"),
                    kw.get("outcome"), kw.get("late"))  # type: ignore[arg-type]  # fmt: skip


DISPATCHED = entry(0, "dispatch", "dispatched", "reported", actor="system:router")


@pytest.mark.parametrize(
    ("values", "p50", "p90"),
    [([], None, None), ([7], 7, 7), ([1, 2], 1, 2), (list(range(1, 11)), 5, 9), (list(range(1, 12)), 6, 10)],
)
def test_percentiles_are_nearest_rank(values: list[int], p50: int | None, p90: int | None) -> None:
    assert (percentile(values, 50), percentile(values, 90)) == (p50, p90)


def test_a_ratio_without_denominator_has_no_value() -> None:
    assert Ratio(0, 0).value is None and Ratio(2, 3).value == 0.6667


def test_a_live_deadline_is_late_only_once_it_has_passed() -> None:
    timers = [timer("accept", 10)]
    assert facts(case(), [DISPATCHED], timers, T + timedelta(minutes=9)).late == frozenset()
    assert facts(case(), [DISPATCHED], timers, T + timedelta(minutes=10)).late == {"accept"}


def test_fired_stale_and_superseded_timers_are_no_miss_but_escalated_ones_are() -> None:
    later = T + timedelta(days=1)
    quiet = [
        timer("accept", 10, fired_at=T, outcome="stale"),
        timer("arrive", 30, cancelled_at=T, outcome="superseded"),
    ]
    assert facts(case(), [DISPATCHED], quiet, later).late == frozenset()
    missed = [timer("accept", 10, fired_at=T + timedelta(minutes=10), outcome="escalated")]
    assert facts(case(), [DISPATCHED], missed, later).late == {"accept"}


def test_an_unfiled_case_is_never_late_nor_due() -> None:
    reported = facts(case("reported"), [entry(0, "report", "reported", None)], [], T + timedelta(days=1))
    assert (reported.filed, reported.due, reported.late) == (False, False, frozenset())


def test_rework_is_a_reopening_of_handled_work_not_of_a_rejection() -> None:
    log = [DISPATCHED, entry(1, "reject", "rejected", "dispatched", reason="false_alarm"),
           entry(2, "reopen", "reopened", "rejected", actor="command")]  # fmt: skip
    assert not facts(case("reopened"), log, [], T).reworked
    log = [
        DISPATCHED,
        entry(5, "resolve", "resolved", "in_progress"),
        entry(9, "reopen", "reopened", "resolved"),
    ]
    assert facts(case("reopened"), log, [], T).reworked


def test_duplicates_are_repeat_reports_plus_a_rejection_as_duplicate() -> None:
    assert facts(case(event_count=4), [DISPATCHED], [], T).duplicates == 3
    log = [
        entry(0, "report", "reported", None),
        entry(3, "reject", "rejected", "reported", reason="duplicate"),
    ]
    assert facts(case("rejected", event_count=1), log, [], T).duplicates == 1
    assert facts(case("rejected", event_count=0), [], [], T).duplicates == 0  # folded into its twin
