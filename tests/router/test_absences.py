"""Leave and cover in the pure duty resolver, escalation and the roster CSV (no database)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from models.records import Absence, IncidentState, Role, Severity
from router.deadlines import TimerKind
from router.duty import Roster
from router.escalation import Standing, escalate
from router.imports import ImportRejected
from router.imports.roster import ABSENCE_HEADER, HEADER, parse_roster_file
from tests.router.demo_data import demo_shifts

SHANGHAI = ZoneInfo("Asia/Shanghai")
DONGGUAN_1 = "379901001001001"
NOON = datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI)  # a Monday: w001 on the day shift


def leave(worker: str, cover: str | None, hours: float = 8) -> Absence:
    return Absence(worker, NOON - timedelta(hours=1), NOON + timedelta(hours=hours), cover, "sick leave")


def test_an_absent_worker_is_skipped_and_the_cover_stands_in() -> None:
    roster = Roster(demo_shifts(), absences=[leave("w001", "w003")])
    result = roster.resolve(DONGGUAN_1, NOON)
    assert result.assignee is not None and result.assignee.worker_id == "w003"
    assert result.covers == (("w001", "w003"),)
    assert result.tried == ((Role.GRID_WORKER, DONGGUAN_1, True),)


def test_leave_without_a_cover_goes_up_the_chain() -> None:
    result = Roster(demo_shifts(), absences=[leave("w001", None)]).resolve(DONGGUAN_1, NOON)
    assert result.assignee is not None and result.assignee.worker_id == "w008"  # the grid leader
    assert result.covers == ()
    assert result.tried[0] == (Role.GRID_WORKER, DONGGUAN_1, False)


def test_a_cover_who_is_away_too_does_not_stand_in() -> None:
    roster = Roster(demo_shifts(), absences=[leave("w001", "w003"), leave("w003", None)])
    result = roster.resolve(DONGGUAN_1, NOON)
    assert result.assignee is not None and result.assignee.worker_id == "w008"


def test_leave_applies_only_between_its_instants() -> None:
    roster = Roster(demo_shifts(), absences=[leave("w001", "w003", hours=2)])
    later = roster.resolve(DONGGUAN_1, NOON + timedelta(hours=2))  # ends_at is exclusive
    assert later.assignee is not None and later.assignee.worker_id == "w001"
    assert not roster.at_work("w001", NOON) and roster.at_work("w001", NOON + timedelta(hours=2))


def test_the_cli_flag_still_skips_a_worker_without_naming_a_cover() -> None:
    result = Roster(demo_shifts()).resolve(DONGGUAN_1, NOON, absent={"w001"})
    assert result.assignee is not None and result.assignee.worker_id == "w008" and result.covers == ()


def test_escalation_skips_an_absent_leader_for_their_cover() -> None:
    roster = Roster(demo_shifts(), absences=[leave("w008", "w009")])
    standing = Standing(IncidentState.DISPATCHED, Severity.MEDIUM, DONGGUAN_1, "w001", Role.GRID_WORKER)
    step = escalate(standing, TimerKind.ACCEPT, roster, NOON)
    assert step is not None and step.to is not None and step.to.worker_id == "w009"


CSV_HEAD = ",".join(HEADER + ABSENCE_HEADER)
SICK = "2026-11-23 08:00,2026-11-24 08:00,w002,病假"


def test_the_roster_csv_carries_leave_and_old_files_stay_valid(known: frozenset[str]) -> None:
    text = "\n".join(
        [
            CSV_HEAD,
            f"w001,王芳,138,grid_worker,379901001001001,*,08:00,20:00,{SICK}",
            f"w001,王芳,138,grid_worker,379901001001001,6-7,20:00,22:00,{SICK}",
            "w002,李强,139,grid_worker,379901001001001,*,20:00,08:00,,,,",
        ]
    )
    parsed = parse_roster_file(text, known_units=known)
    assert len(parsed.shifts) == 3
    assert parsed.absences == [
        Absence(
            "w001",
            datetime(2026, 11, 23, 8, tzinfo=SHANGHAI),
            datetime(2026, 11, 24, 8, tzinfo=SHANGHAI),
            "w002",
            "病假",
            "import",
        )
    ]
    old = "\n".join([",".join(HEADER), "w002,李强,139,grid_worker,379901001001001,*,20:00,08:00"])
    assert parse_roster_file(old, known_units=known).absences == []


@pytest.mark.parametrize(
    ("cells", "where", "message"),
    [
        ("2026-11-24 08:00,2026-11-23 08:00,w002,", "line 2, absent_to", "must be after absent_from"),
        ("2026-11-23,2026-11-24 08:00,w002,", "line 2, absent_from", "is not a date and time like"),
        (",2026-11-24 08:00,w002,", "line 2, absent_from", "leave needs absent_from and absent_to"),
        ("2026-11-23 08:00,2026-11-24 08:00,w001,", "line 2, cover_id", "cannot cover for themselves"),
        ("2026-11-23 08:00,2026-11-24 08:00,w099,", "line 2, cover_id", "'w099' has no shift in the roster"),
    ],
)
def test_bad_leave_is_refused_with_its_place(
    known: frozenset[str], cells: str, where: str, message: str
) -> None:
    text = f"{CSV_HEAD}\nw001,王芳,138,grid_worker,379901001001001,*,08:00,20:00,{cells}\n"
    with pytest.raises(ImportRejected) as refused:
        parse_roster_file(text, known_units=known)
    [problem] = refused.value.problems
    assert problem.where == where and message in problem.message


@pytest.fixture
def known() -> frozenset[str]:
    return frozenset({"379901", "379901001", "379901001001", "379901001001001"})
