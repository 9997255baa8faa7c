"""Duty roster import: CSV text in, Shift records out, or every reason the file is refused.

Times must be written exactly HH:MM as FORMATS.md says: "8:00" is refused rather than read, because a
roster that mixes spellings usually comes from a spreadsheet that also reformatted other cells.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Collection, Iterable, Iterator

from models.records import ROLE_LEVEL, Grid, Role, Shift
from router.duty import parse_hhmm, parse_weekdays
from router.imports.problems import ImportRejected, Problem

HEADER = ("worker_id", "name", "phone", "role", "unit_code", "weekdays", "start", "end")
_STRICT_HHMM = re.compile(r"\d{2}:\d{2}")
_DIGITS = re.compile(r"\d+")

#: Records one problem of the current row: (column, message).
_Fail = Callable[[str, str], None]


def unit_codes(grids: Iterable[Grid]) -> frozenset[str]:
    """The codes a roster may name: every grid and its community, township and county."""
    return frozenset(unit.code for grid in grids for unit in grid.chain())


def parse_roster(text: str, *, known_units: Collection[str]) -> list[Shift]:
    """Every shift of the roster, in file order; raises ImportRejected listing all problems."""
    rows = _rows(text)
    try:
        _, header = next(rows)
    except StopIteration:
        raise ImportRejected(
            [Problem("line 1", f"the file is empty; expected the header {','.join(HEADER)}")]
        ) from None
    if tuple(cell.strip().lstrip("\ufeff") for cell in header) != HEADER:
        raise ImportRejected(
            [Problem("line 1", f"header must be {','.join(HEADER)!r}, got {','.join(header)!r}")]
        )
    problems: list[Problem] = []
    shifts: list[Shift] = []
    first_line: dict[Shift, int] = {}
    for line, cells in rows:
        shift, found = _shift(cells, line, known_units)
        if shift is not None and shift in first_line:
            found.append(Problem(f"line {line}", f"repeats line {first_line[shift]}"))
        problems += found
        if shift is not None and not found:
            first_line[shift] = line
            shifts.append(shift)
    if problems:
        raise ImportRejected(problems)
    if not shifts:
        raise ImportRejected([Problem("line 2", "the roster has a header but no shifts")])
    return shifts


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank records with the line each starts on (a quoted cell may span lines)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    start = 1
    for cells in reader:
        if any(cell.strip() for cell in cells):
            yield start, cells
        start = reader.line_num + 1


def _shift(cells: list[str], line: int, known_units: Collection[str]) -> tuple[Shift | None, list[Problem]]:
    if len(cells) != len(HEADER):
        return None, [Problem(f"line {line}", f"has {len(cells)} fields, expected {len(HEADER)}")]
    values = dict(zip(HEADER, (cell.strip() for cell in cells), strict=True))
    problems = [Problem(f"line {line}, {key}", "is empty") for key, value in values.items() if not value]
    if problems:
        return None, problems

    def fail(key: str, message: str) -> None:
        problems.append(Problem(f"line {line}, {key}", message))

    role = _role(values["role"], fail)
    if role is not None:
        _check_unit(values["unit_code"], role, known_units, fail)
    weekdays: frozenset[int] = frozenset()
    try:
        weekdays = parse_weekdays(values["weekdays"])
    except ValueError as error:
        fail("weekdays", str(error))
    start = _minute(values["start"], "start", fail)
    end = _minute(values["end"], "end", fail)
    if start is not None and start == end:
        fail("end", f"equals start ({values['start']}); use 00:00 to 24:00 for a whole day")
    if problems or role is None or start is None or end is None:
        return None, problems
    shift = Shift(
        worker_id=values["worker_id"],
        name=values["name"],
        phone=values["phone"],
        role=role,
        unit_code=values["unit_code"],
        weekdays=weekdays,
        start_minute=start,
        end_minute=end,
    )
    return shift, problems


def _role(text: str, fail: _Fail) -> Role | None:
    try:
        return Role(text)
    except ValueError:
        fail("role", f"must be one of {', '.join(r.value for r in Role)}; got {text!r}")
        return None


def _check_unit(code: str, role: Role, known_units: Collection[str], fail: _Fail) -> None:
    level = ROLE_LEVEL[role]
    if _DIGITS.fullmatch(code) is None or len(code) != level:
        fail(
            "unit_code",
            f"a {role.value} is rostered on a {level.name.lower()} code of {level.value} digits, "
            f"got {code!r} ({len(code)} characters)",
        )
    elif code not in known_units:
        fail("unit_code", f"no {level.name.lower()} {code} among the imported grids")


def _minute(text: str, key: str, fail: _Fail) -> int | None:
    if _STRICT_HHMM.fullmatch(text) is None:
        fail(key, f"time {text!r} is not HH:MM (write 08:00, not 8:00)")
        return None
    try:
        return parse_hhmm(text, allow_24=key == "end")
    except ValueError as error:
        fail(key, str(error))
        return None
