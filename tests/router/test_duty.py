from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from models.records import Role, Shift
from router.duty import Roster, covers, fallback_chain, parse_hhmm, parse_weekdays
from tests.router.demo_data import demo_shifts

SHANGHAI = ZoneInfo("Asia/Shanghai")
DONGGUAN_1 = "379901001001001"
DONGGUAN_3 = "379901001001003"
XIGUAN_4 = "379901001002004"
HEWAN_1 = "379901002001001"


@pytest.fixture(scope="module")
def roster() -> Roster:
    return Roster(demo_shifts())


def at(text: str) -> datetime:
    """An Asia/Shanghai wall-clock instant; 2026-11-23 is a Monday."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("unit", "instant", "worker"),
    [
        (DONGGUAN_1, at("2026-11-23 10:00"), "w001"),
        (DONGGUAN_1, at("2026-11-23 21:00"), "w002"),
        # Day shift 08:00–20:00 ends at 20:00 sharp; the night shift owns 20:00 itself.
        (DONGGUAN_1, at("2026-11-23 19:59:59"), "w001"),
        (DONGGUAN_1, at("2026-11-23 20:00"), "w002"),
        (DONGGUAN_1, at("2026-11-23 07:59"), "w002"),
        (DONGGUAN_1, at("2026-11-23 08:00"), "w001"),
        # The night shift that started Sunday 20:00 covers Monday 03:00.
        (DONGGUAN_1, at("2026-11-23 03:00"), "w002"),
        # w005 works 1-5 08:00–18:00: Friday yes, Saturday no (falls to community duty, no grid leader).
        (DONGGUAN_3, at("2026-11-27 17:59"), "w005"),
        (DONGGUAN_3, at("2026-11-27 18:00"), "w010"),
        (DONGGUAN_3, at("2026-11-28 10:00"), "w010"),
        # 00:00–24:00 covers the last minute of the day and the first of the next.
        ("379901001001004", at("2026-11-23 23:59"), "w006"),
        ("379901001001004", at("2026-11-24 00:00"), "w006"),
        # w007 06:00–22:00 at the market grid; at night the community duty of 西关 takes it.
        (XIGUAN_4, at("2026-11-23 21:59"), "w007"),
        (XIGUAN_4, at("2026-11-23 22:00"), "w011"),
        # w015 only works weekends; on a weekday 河湾村 has no community duty, so the township's.
        (HEWAN_1, at("2026-11-28 12:00"), "w015"),
        (HEWAN_1, at("2026-11-23 12:00"), "w013"),
        # Units above grid level start at their own role.
        ("379901001002", at("2026-11-23 12:00"), "w011"),
        ("379901001", at("2026-11-23 12:00"), "w012"),
        ("379901", at("2026-11-23 12:00"), "w014"),
    ],
)
def test_demo_roster_assignee(roster: Roster, unit: str, instant: datetime, worker: str) -> None:
    result = roster.resolve(unit, instant)
    assert result.assignee is not None
    assert result.assignee.worker_id == worker
    assert result.on_duty[0] == result.assignee
    assert result.tried[-1] == (result.assignee.role, result.assignee.unit_code, True)
    assert all(not found for _, _, found in result.tried[:-1])


def test_the_fallback_chain_is_recorded(roster: Roster) -> None:
    result = roster.resolve(HEWAN_1, at("2026-11-23 12:00"))
    assert result.tried == (
        (Role.GRID_WORKER, HEWAN_1, False),
        (Role.GRID_LEADER, HEWAN_1, False),
        (Role.COMMUNITY_DUTY, "379901002001", False),
        (Role.TOWNSHIP_DUTY, "379901002", True),
    )


@pytest.mark.parametrize(
    "instant",
    [
        datetime(2026, 11, 23, 2, 0, tzinfo=UTC),  # 10:00 in Shanghai
        datetime(2026, 11, 22, 21, 0, tzinfo=timezone(timedelta(hours=-5))),  # 10:00 Monday in Shanghai
        at("2026-11-23 10:00").astimezone(ZoneInfo("Europe/Berlin")),
    ],
)
def test_instants_in_any_zone_are_read_as_shanghai_wall_clock(roster: Roster, instant: datetime) -> None:
    assert [a.worker_id for a in roster.on_duty(Role.GRID_WORKER, DONGGUAN_1, instant)] == ["w001"]


def test_naive_instants_are_refused(roster: Roster) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        roster.resolve(DONGGUAN_1, datetime(2026, 11, 23, 10, 0))


def test_several_on_duty_lowest_worker_id_first_and_absent_skipped() -> None:
    extra = [
        Shift("w100", "甲", "1", Role.GRID_WORKER, DONGGUAN_1, frozenset({1}), 9 * 60, 12 * 60),
        Shift("w000", "乙", "2", Role.GRID_WORKER, DONGGUAN_1, frozenset({1}), 9 * 60, 12 * 60),
    ]
    roster = Roster([*demo_shifts(), *extra])
    instant = at("2026-11-23 10:00")
    assert [a.worker_id for a in roster.resolve(DONGGUAN_1, instant).on_duty] == ["w000", "w001", "w100"]
    without = roster.resolve(DONGGUAN_1, instant, absent={"w000"})
    assert without.assignee is not None and without.assignee.worker_id == "w001"
    # With every grid worker away, the grid leader is next.
    nobody = roster.resolve(DONGGUAN_1, instant, absent={"w000", "w001", "w100"})
    assert nobody.assignee is not None and nobody.assignee.worker_id == "w008"


def test_nobody_at_all_gives_no_assignee() -> None:
    result = Roster([]).resolve(DONGGUAN_1, at("2026-11-23 10:00"))
    assert result.assignee is None and result.on_duty == ()
    assert [role for role, _, _ in result.tried] == list(Role)


def _shift(weekdays: set[int], start: str, end: str) -> Shift:
    return Shift(
        "w1",
        "n",
        "p",
        Role.GRID_WORKER,
        DONGGUAN_1,
        frozenset(weekdays),
        parse_hhmm(start, allow_24=False),
        parse_hhmm(end, allow_24=True),
    )


@pytest.mark.parametrize(
    ("shift", "instant", "on"),
    [
        # Friday 22:00–06:00 covers Saturday 03:00 but not Friday 03:00 (that belongs to Thursday's shift).
        (_shift({5}, "22:00", "06:00"), at("2026-11-28 03:00"), True),
        (_shift({5}, "22:00", "06:00"), at("2026-11-27 03:00"), False),
        (_shift({5}, "22:00", "06:00"), at("2026-11-27 22:00"), True),
        (_shift({5}, "22:00", "06:00"), at("2026-11-28 06:00"), False),
        # Sunday night runs into Monday morning across the week boundary.
        (_shift({7}, "20:00", "08:00"), at("2026-11-23 07:00"), True),
        (_shift({1, 2, 3, 4, 5}, "08:30", "19:30"), at("2026-11-23 19:29"), True),
        (_shift({1, 2, 3, 4, 5}, "08:30", "19:30"), at("2026-11-23 19:30"), False),
        (_shift({1, 2, 3, 4, 5}, "08:30", "19:30"), at("2026-11-23 08:29:59"), False),
        (_shift({1}, "18:00", "24:00"), at("2026-11-23 23:59:59"), True),
        (_shift({1}, "18:00", "24:00"), at("2026-11-24 00:00"), False),
        # Equal start and end: a 24-hour watch from 08:30 to 08:30 the next day.
        (_shift({1}, "08:30", "08:30"), at("2026-11-24 08:29"), True),
        (_shift({1}, "08:30", "08:30"), at("2026-11-24 08:30"), False),
    ],
)
def test_shift_coverage(shift: Shift, instant: datetime, on: bool) -> None:
    assert covers(shift, instant) is on


@pytest.mark.parametrize(
    ("text", "allow_24", "minutes"),
    [
        ("00:00", False, 0),
        ("08:00", False, 480),
        ("8:05", False, 485),
        ("19:30", False, 1170),
        ("23:59", False, 1439),
        ("24:00", True, 1440),
        (" 20:00 ", False, 1200),
        ("06:00:00", False, 360),
    ],
)
def test_parse_hhmm(text: str, allow_24: bool, minutes: int) -> None:
    assert parse_hhmm(text, allow_24=allow_24) == minutes


@pytest.mark.parametrize(
    ("text", "allow_24", "message"),
    [
        ("25:00", True, "hours must be 00–23 (or 24:00)"),
        ("24:00", False, "24:00 is only allowed as a shift end"),
        ("24:30", True, "hours must be 00–23"),
        ("12:60", False, "minutes must be 00–59"),
        ("1200", False, "is not HH:MM"),
        ("", False, "is not HH:MM"),
        ("8:5", False, "is not HH:MM"),
    ],
)
def test_parse_hhmm_rejects(text: str, allow_24: bool, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_hhmm(text, allow_24=allow_24)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("*", {1, 2, 3, 4, 5, 6, 7}),
        ("1-5", {1, 2, 3, 4, 5}),
        ("6-7", {6, 7}),
        ("1,3,5", {1, 3, 5}),
        ("1-3, 6", {1, 2, 3, 6}),
        ("7", {7}),
        ("1，2", {1, 2}),
    ],
)
def test_parse_weekdays(text: str, days: set[int]) -> None:
    assert parse_weekdays(text) == frozenset(days)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "0 is not an ISO weekday"),
        ("1-8", "8 is not an ISO weekday"),
        ("5-1", "range 5-1 runs backwards"),
        ("", "weekdays is empty"),
        ("Mon", "'Mon' is not a day number"),
        ("1,,2", "'' is not a day number"),
    ],
)
def test_parse_weekdays_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_weekdays(text)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("shift", "message"),
    [
        (
            Shift("w1", "n", "p", Role.GRID_WORKER, "379901001", frozenset({1}), 0, 60),
            "rostered on a grid code",
        ),
        (Shift("w1", "n", "p", Role.TOWNSHIP_DUTY, DONGGUAN_1, frozenset({1}), 0, 60), "township code"),
        (Shift("w1", "n", "p", Role.GRID_WORKER, DONGGUAN_1, frozenset(), 0, 60), "non-empty subset"),
        (Shift("w1", "n", "p", Role.GRID_WORKER, DONGGUAN_1, frozenset({8}), 0, 60), "non-empty subset"),
        (Shift("w1", "n", "p", Role.GRID_WORKER, DONGGUAN_1, frozenset({1}), 1440, 60), "start minute 1440"),
        (Shift("w1", "n", "p", Role.GRID_WORKER, DONGGUAN_1, frozenset({1}), 0, 1441), "end minute 1441"),
    ],
)
def test_roster_rejects_bad_shifts(shift: Shift, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        Roster([shift])
    assert "w1" in str(caught.value) and message in str(caught.value)


def test_unknown_time_zone() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Asia/Shangai'"):
        Roster([], tz="Asia/Shangai")


def test_fallback_chain_starts_at_the_units_level() -> None:
    assert fallback_chain("379901001001") == (
        (Role.COMMUNITY_DUTY, "379901001001"),
        (Role.TOWNSHIP_DUTY, "379901001"),
        (Role.COUNTY_COMMAND, "379901"),
    )
