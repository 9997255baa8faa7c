from __future__ import annotations

from pathlib import Path

import pytest

from models.records import Role
from router.imports import ImportRejected, parse_roster

GOOD_ROW = "w016,钱进,13800000016,grid_worker,379901001001003,6-7,08:00,20:00"


def _with_row(demo: Path, row: str, *, replace_line: int | None = None) -> str:
    """The demo roster with `row` appended (line 17) or written over a line, saved and read back."""
    lines = (demo / "roster.csv").read_text(encoding="utf-8").splitlines()
    if replace_line is None:
        lines.append(row)
    else:
        lines[replace_line - 1] = row
    path = demo / "roster.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path.read_text(encoding="utf-8")


BROKEN_ROWS = [
    ("unknown grid", GOOD_ROW.replace("379901001001003", "379901001001009"), "line 17, unit_code",
     "no grid 379901001001009 among the imported grids"),
    ("unknown township", "w016,钱进,138,township_duty,379901009,*,08:00,20:00", "line 17, unit_code",
     "no township 379901009"),
    ("hour 25", GOOD_ROW.replace("08:00", "25:00"), "line 17, start", "hours must be 00–23"),
    ("end 25:00", GOOD_ROW.replace("20:00", "25:00"), "line 17, end", "hours must be 00–23 (or 24:00)"),
    ("minute 60", GOOD_ROW.replace("08:00", "08:60"), "line 17, start", "minutes must be 00–59"),
    ("H:MM", GOOD_ROW.replace("08:00", "8:00"), "line 17, start", "time '8:00' is not HH:MM"),
    ("24:00 start", GOOD_ROW.replace("08:00", "24:00"), "line 17, start",
     "24:00 is only allowed as a shift end"),
    ("start equals end", GOOD_ROW.replace("20:00", "08:00"), "line 17, end", "equals start (08:00)"),
    ("role", GOOD_ROW.replace("grid_worker", "grid_boss"), "line 17, role", "got 'grid_boss'"),
    ("grid role on community", GOOD_ROW.replace("379901001001003", "379901001001"), "line 17, unit_code",
     "a grid_worker is rostered on a grid code of 15 digits, got '379901001001' (12 characters)"),
    ("community role on grid", GOOD_ROW.replace("grid_worker", "community_duty"), "line 17, unit_code",
     "community code of 12 digits"),
    ("weekday 8", GOOD_ROW.replace("6-7", "6-8"), "line 17, weekdays", "8 is not an ISO weekday"),
    ("weekday word", GOOD_ROW.replace("6-7", "周末"), "line 17, weekdays", "is not a day number"),
    ("empty phone", GOOD_ROW.replace("13800000016", ""), "line 17, phone", "is empty"),
    ("missing field", GOOD_ROW.rpartition(",")[0], "line 17", "has 7 fields, expected 8"),
    ("duplicate row", "w001,王芳,13800000001,grid_worker,379901001001001,*,08:00,20:00", "line 17",
     "repeats line 2"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("row", "where", "message"), [c[1:] for c in BROKEN_ROWS], ids=[c[0] for c in BROKEN_ROWS]
)
def test_broken_row_is_refused_with_one_precise_problem(
    demo: Path, known_units: frozenset[str], row: str, where: str, message: str
) -> None:
    with pytest.raises(ImportRejected) as rejected:
        parse_roster(_with_row(demo, row), known_units=known_units)
    [problem] = rejected.value.problems
    assert problem.where == where
    assert message in problem.message


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("worker_id,name,phone,role,unit,weekdays,start,end", "header must be"),
        ("", "header must be"),
    ],
)
def test_wrong_header_is_refused(demo: Path, known_units: frozenset[str], header: str, message: str) -> None:
    text = _with_row(demo, header, replace_line=1)
    with pytest.raises(ImportRejected) as rejected:
        parse_roster(text, known_units=known_units)
    [problem] = rejected.value.problems
    assert problem.where == "line 1"
    assert message in problem.message


def test_every_bad_row_is_reported(demo: Path, known_units: frozenset[str]) -> None:
    _with_row(demo, GOOD_ROW.replace("08:00", "25:00"), replace_line=3)
    text = _with_row(demo, GOOD_ROW.replace("6-7", "0"))
    with pytest.raises(ImportRejected) as rejected:
        parse_roster(text, known_units=known_units)
    assert [p.where for p in rejected.value.problems] == ["line 3, start", "line 17, weekdays"]


def test_demo_roster_parses(demo: Path, known_units: frozenset[str]) -> None:
    shifts = parse_roster((demo / "roster.csv").read_text(encoding="utf-8"), known_units=known_units)
    assert len(shifts) == 15
    night = shifts[1]
    assert (night.worker_id, night.start_minute, night.end_minute) == ("w002", 20 * 60, 8 * 60)
    assert shifts[5].end_minute == 24 * 60
    assert shifts[4].weekdays == frozenset({1, 2, 3, 4, 5})
    assert shifts[13].role is Role.COUNTY_COMMAND


def test_spreadsheet_export_with_bom_and_crlf_parses(demo: Path, known_units: frozenset[str]) -> None:
    text = (demo / "roster.csv").read_text(encoding="utf-8")
    exported = "\ufeff" + text.replace("\n", "\r\n") + "\r\n"
    assert len(parse_roster(exported, known_units=known_units)) == 15


def test_line_numbers_skip_blank_lines_correctly(demo: Path, known_units: frozenset[str]) -> None:
    text = (demo / "roster.csv").read_text(encoding="utf-8").replace("\nw003", "\n\nw003")
    broken = text.replace("w003,张伟,13800000003,grid_worker", "w003,张伟,13800000003,grid_boss")
    with pytest.raises(ImportRejected) as rejected:
        parse_roster(broken, known_units=known_units)
    assert [p.where for p in rejected.value.problems] == ["line 5, role"]
