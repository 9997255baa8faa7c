"""Duty roster import: CSV text in, Shift records (and absences) out, or every reason the file is refused.

Times must be written exactly HH:MM as FORMATS.md says: "8:00" is refused rather than read, because a
roster that mixes spellings usually comes from a spreadsheet that also reformatted other cells.

Four optional columns after the eight of FORMATS.md record leave on a row: ``absent_from`` and
``absent_to`` (``YYYY-MM-DD HH:MM`` in the site's time zone, or ISO 8601 with an offset), ``cover_id`` (the
roster id who takes the worker's cases meanwhile) and ``absence_reason``; a file without them stays valid.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from models.records import ROLE_LEVEL, Absence, Grid, Role, Shift
from router.duty import parse_hhmm, parse_weekdays
from router.imports.problems import ImportRejected, Problem

HEADER = ("worker_id", "name", "phone", "role", "unit_code", "weekdays", "start", "end")
#: Optional leave columns, all four or none, after HEADER.
ABSENCE_HEADER = ("absent_from", "absent_to", "cover_id", "absence_reason")
_LOCAL = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")
_STRICT_HHMM = re.compile(r"\d{2}:\d{2}")
_DIGITS = re.compile(r"\d+")

#: Records one problem of the current row: (column, message).
_Fail = Callable[[str, str], None]


def unit_codes(grids: Iterable[Grid]) -> frozenset[str]:
    """The codes a roster may name: every grid and its community, township and county."""
    return frozenset(unit.code for grid in grids for unit in grid.chain())


@dataclass(frozen=True, slots=True)
class RosterFile:
    shifts: list[Shift]
    #: Leave written on the file's rows, once each.
    absences: list[Absence]


def parse_roster(text: str, *, known_units: Collection[str]) -> list[Shift]:
    """Every shift of the roster, in file order; raises ImportRejected listing all problems."""
    return parse_roster_file(text, known_units=known_units).shifts


def parse_roster_file(text: str, *, known_units: Collection[str], tz: str = "Asia/Shanghai") -> RosterFile:
    """Shifts and absences of a roster CSV (absence times without an offset are in ``tz``)."""
    rows = _rows(text)
    try:
        _, header = next(rows)
    except StopIteration:
        raise ImportRejected(
            [Problem("line 1", f"the file is empty; expected the header {','.join(HEADER)}")]
        ) from None
    columns = tuple(cell.strip().lstrip("\ufeff") for cell in header)
    if columns not in (HEADER, HEADER + ABSENCE_HEADER):
        raise ImportRejected(
            [
                Problem(
                    "line 1",
                    f"header must be {','.join(HEADER)!r} (optionally followed by "
                    f"{','.join(ABSENCE_HEADER)!r}), got {','.join(header)!r}",
                )
            ]
        )
    zone = ZoneInfo(tz)
    problems: list[Problem] = []
    shifts: list[Shift] = []
    absences: dict[Absence, int] = {}
    first_line: dict[Shift, int] = {}
    for line, cells in rows:
        if len(cells) != len(columns):
            problems.append(Problem(f"line {line}", f"has {len(cells)} fields, expected {len(columns)}"))
            continue
        values = dict(zip(columns, (cell.strip() for cell in cells), strict=True))
        shift, found = check_shift(values, known_units, f"line {line}")
        if shift is not None and shift in first_line:
            found.append(Problem(f"line {line}", f"repeats line {first_line[shift]}"))
        absence = _absence(values, zone, f"line {line}", found) if len(columns) > len(HEADER) else None
        problems += found
        if shift is not None and not found:
            first_line[shift] = line
            shifts.append(shift)
        if absence is not None and not found:
            absences.setdefault(absence, line)
    workers = {shift.worker_id for shift in shifts}
    for absence, line in absences.items():
        if absence.cover_id is not None and absence.cover_id not in workers:
            problems.append(
                Problem(f"line {line}, cover_id", f"{absence.cover_id!r} has no shift in the roster")
            )
    if problems:
        raise ImportRejected(problems)
    if not shifts:
        raise ImportRejected([Problem("line 2", "the roster has a header but no shifts")])
    return RosterFile(shifts, list(absences))


def check_shift(
    values: Mapping[str, str], known_units: Collection[str], where: str
) -> tuple[Shift | None, list[Problem]]:
    """One shift from its HEADER fields, or the problems found (each placed under ``where``)."""
    missing = [key for key in HEADER if not values.get(key, "").strip()]
    if missing:
        return None, [Problem(f"{where}, {key}", "is empty") for key in missing]
    problems: list[Problem] = []

    def fail(key: str, message: str) -> None:
        problems.append(Problem(f"{where}, {key}", message))

    role = _role(values["role"].strip(), fail)
    if role is not None:
        _check_unit(values["unit_code"].strip(), role, known_units, fail)
    weekdays: frozenset[int] = frozenset()
    try:
        weekdays = parse_weekdays(values["weekdays"])
    except ValueError as error:
        fail("weekdays", str(error))
    start = _minute(values["start"].strip(), "start", fail)
    end = _minute(values["end"].strip(), "end", fail)
    if start is not None and start == end:
        fail("end", f"equals start ({values['start'].strip()}); use 00:00 to 24:00 for a whole day")
    if problems or role is None or start is None or end is None:
        return None, problems
    shift = Shift(
        worker_id=values["worker_id"].strip(),
        name=values["name"].strip(),
        phone=values["phone"].strip(),
        role=role,
        unit_code=values["unit_code"].strip(),
        weekdays=weekdays,
        start_minute=start,
        end_minute=end,
    )
    return shift, problems


def parse_instant(text: str, zone: ZoneInfo) -> datetime:
    """``YYYY-MM-DD HH:MM`` in ``zone``, or ISO 8601 with an offset; ValueError says what is wrong."""
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date and time like 2026-12-01 08:00") from None
    if parsed.tzinfo is None:
        if _LOCAL.fullmatch(value) is None:
            raise ValueError(f"{value!r} is not a date and time like 2026-12-01 08:00")
        parsed = parsed.replace(tzinfo=zone)
    try:
        parsed.astimezone(UTC)  # year 1 or 9999 with an offset has no UTC instant to store
    except OverflowError:
        raise ValueError(f"{value!r} is out of range") from None
    return parsed


def _absence(
    values: Mapping[str, str], zone: ZoneInfo, where: str, problems: list[Problem]
) -> Absence | None:
    if not any(values[key] for key in ABSENCE_HEADER):
        return None
    instants: list[datetime] = []
    for key in ("absent_from", "absent_to"):
        if not values[key]:
            problems.append(Problem(f"{where}, {key}", "is empty; leave needs absent_from and absent_to"))
            continue
        try:
            instants.append(parse_instant(values[key], zone))
        except ValueError as error:
            problems.append(Problem(f"{where}, {key}", str(error)))
    if len(instants) != 2:
        return None
    if instants[1] <= instants[0]:
        problems.append(Problem(f"{where}, absent_to", "must be after absent_from"))
        return None
    cover = values["cover_id"] or None
    if cover is not None and cover == values["worker_id"]:
        problems.append(Problem(f"{where}, cover_id", "a worker cannot cover for themselves"))
        return None
    return Absence(values["worker_id"], instants[0], instants[1], cover, values["absence_reason"], "import")


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank records with the line each starts on (a quoted cell may span lines)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    start = 1
    for cells in reader:
        if any(cell.strip() for cell in cells):
            yield start, cells
        start = reader.line_num + 1


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
