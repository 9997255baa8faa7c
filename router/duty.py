"""Who is on duty for a unit at an instant, and the fallback chain when nobody is.

Shifts are local wall-clock times in the site's time zone; instants arrive as aware datetimes in any
zone and are converted here, so a UTC timestamp from a camera and a +08:00 one from a phone agree.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from models.records import ROLE_LEVEL, Absence, Assignee, DutyResult, Role, Shift, UnitLevel
from router.grids import unit_level

MINUTES_PER_DAY = 24 * 60
ALL_WEEKDAYS = frozenset(range(1, 8))

#: The fallback order of FORMATS.md; each role looks at the ancestor of the unit at its own level.
FALLBACK: tuple[Role, ...] = (
    Role.GRID_WORKER,
    Role.GRID_LEADER,
    Role.COMMUNITY_DUTY,
    Role.TOWNSHIP_DUTY,
    Role.COUNTY_COMMAND,
)

_HHMM = re.compile(r"(\d{1,2}):(\d{2})(?::00)?")
_WEEKDAY_ITEM = re.compile(r"(\d+)(?:-(\d+))?")


def parse_hhmm(s: str, *, allow_24: bool) -> int:
    """Minutes after midnight for 'HH:MM' (a trailing ':00' from spreadsheets is tolerated)."""
    text = s.strip()
    match = _HHMM.fullmatch(text)
    if match is None:
        raise ValueError(f"time {s!r} is not HH:MM")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59:
        raise ValueError(f"time {s!r}: minutes must be 00–59")
    if hours == 24 and minutes == 0:
        if not allow_24:
            raise ValueError(f"time {s!r}: 24:00 is only allowed as a shift end")
        return MINUTES_PER_DAY
    if hours > 23:
        raise ValueError(f"time {s!r}: hours must be 00–23" + (" (or 24:00)" if allow_24 else ""))
    return hours * 60 + minutes


def parse_weekdays(s: str) -> frozenset[int]:
    """ISO weekdays from '*', a range '1-5', a list '1,3,5', or a mix '1-3,6'."""
    text = s.strip().replace("，", ",")
    if text == "*":
        return ALL_WEEKDAYS
    if not text:
        raise ValueError("weekdays is empty; use * for every day")
    days: set[int] = set()
    for item in text.split(","):
        match = _WEEKDAY_ITEM.fullmatch(item.strip())
        if match is None:
            raise ValueError(f"weekdays {s!r}: {item.strip()!r} is not a day number or a range like 1-5")
        first = int(match.group(1))
        last = int(match.group(2) or first)
        for day in (first, last):
            if day not in ALL_WEEKDAYS:
                raise ValueError(f"weekdays {s!r}: {day} is not an ISO weekday (1 = Monday … 7 = Sunday)")
        if last < first:
            raise ValueError(f"weekdays {s!r}: range {first}-{last} runs backwards; list both parts instead")
        days.update(range(first, last + 1))
    return frozenset(days)


def covers(shift: Shift, local: datetime) -> bool:
    """Whether the shift covers a local wall-clock instant, [start, end) with overnight and 24-hour shifts.

    A shift whose end equals its start runs 24 hours from that time (the common 08:30–08:30 watch).
    """
    weekday = local.isoweekday()
    yesterday = 7 if weekday == 1 else weekday - 1
    seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    start, end = shift.start_minute * 60, shift.end_minute * 60
    if start < end:
        return weekday in shift.weekdays and start <= seconds < end
    return (weekday in shift.weekdays and seconds >= start) or (yesterday in shift.weekdays and seconds < end)


@functools.lru_cache(maxsize=65536)
def fallback_chain(unit_code: str) -> tuple[tuple[Role, str], ...]:
    """(role, unit code) steps to try for a unit, starting at the unit's own level."""
    level = unit_level(unit_code)
    return tuple((role, unit_code[: ROLE_LEVEL[role]]) for role in FALLBACK if ROLE_LEVEL[role] <= level)


class Roster:
    """An immutable duty roster and its absences; replace the whole object to apply a new roster."""

    def __init__(
        self, shifts: Sequence[Shift], tz: str = "Asia/Shanghai", absences: Sequence[Absence] = ()
    ) -> None:
        try:
            self.tz = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {tz!r}") from None
        self._shifts: dict[tuple[Role, str], list[Shift]] = {}
        self._by_worker: dict[str, list[Shift]] = {}
        for shift in shifts:
            _check_shift(shift)
            self._shifts.setdefault((shift.role, shift.unit_code), []).append(shift)
            self._by_worker.setdefault(shift.worker_id, []).append(shift)
        self.shifts: tuple[Shift, ...] = tuple(shifts)
        self.absences: tuple[Absence, ...] = tuple(absences)

    def on_duty(self, role: Role, unit_code: str, at: datetime) -> tuple[Assignee, ...]:
        """Everyone of `role` rostered on for the unit at `at`, lowest worker_id first (absent or not)."""
        local = self._local(at)
        found: dict[str, Assignee] = {}
        for shift in self._shifts.get((role, unit_code), ()):
            if shift.worker_id not in found and covers(shift, local):
                found[shift.worker_id] = Assignee(
                    shift.worker_id, shift.name, shift.phone, shift.role, shift.unit_code
                )
        return tuple(found[worker_id] for worker_id in sorted(found))

    def worker(self, worker_id: str) -> Assignee | None:
        """A rostered worker by id, on duty or not (their first shift's post), for handing a case to."""
        for shift in self._by_worker.get(worker_id, ()):
            return Assignee(shift.worker_id, shift.name, shift.phone, shift.role, shift.unit_code)
        return None

    def away(self, at: datetime, absent: Collection[str] = ()) -> dict[str, Absence | None]:
        """Who is absent at `at`: each stored absence, and the ad-hoc `absent` ids (no cover named)."""
        found: dict[str, Absence | None] = {}
        for absence in self.absences:
            if absence.covers(at):
                found.setdefault(absence.worker_id, absence)
        for worker_id in absent:
            found.setdefault(worker_id, None)
        return found

    def at_work(self, worker_id: str, at: datetime) -> bool:
        """Whether one of the worker's shifts covers `at` and they are not absent then."""
        local = self._local(at)
        if not any(covers(shift, local) for shift in self._by_worker.get(worker_id, ())):
            return False
        return worker_id not in self.away(at)

    def present(
        self, role: Role, unit_code: str, at: datetime, skip: Collection[str] = ()
    ) -> tuple[Assignee, ...]:
        """Who answers for `role` at the unit now: the rostered, each absent one replaced by their cover."""
        return self._present(role, unit_code, at, self.away(at), skip)[0]

    def resolve(self, unit_code: str, at: datetime, absent: Collection[str] = ()) -> DutyResult:
        """The first one present along the fallback chain; an absent worker's cover stands in for them."""
        away = self.away(at, absent)
        tried: list[tuple[Role, str, bool]] = []
        stood_in: list[tuple[str, str]] = []
        for role, code in fallback_chain(unit_code):
            present, covering = self._present(role, code, at, away)
            stood_in += covering
            tried.append((role, code, bool(present)))
            if present:
                return DutyResult(present[0], present, tuple(tried), tuple(stood_in))
        return DutyResult(assignee=None, on_duty=(), tried=tuple(tried), covers=tuple(stood_in))

    def _present(
        self,
        role: Role,
        unit_code: str,
        at: datetime,
        away: dict[str, Absence | None],
        skip: Collection[str] = (),
    ) -> tuple[tuple[Assignee, ...], list[tuple[str, str]]]:
        found: dict[str, Assignee] = {}
        covering: list[tuple[str, str]] = []
        for assignee in self.on_duty(role, unit_code, at):
            if assignee.worker_id in skip:
                continue
            if assignee.worker_id not in away:
                found.setdefault(assignee.worker_id, assignee)
                continue
            absence = away[assignee.worker_id]
            cover_id = absence.cover_id if absence is not None else None
            # A cover who is away too, or already passed over, does not stand in: the chain goes on.
            if cover_id is None or cover_id in away or cover_id in skip:
                continue
            cover = self.worker(cover_id)
            if cover is not None:
                found.setdefault(cover_id, cover)
                covering.append((assignee.worker_id, cover_id))
        return tuple(found.values()), covering

    def _local(self, at: datetime) -> datetime:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("duty lookups need a timezone-aware instant")
        return at.astimezone(self.tz)


def _check_shift(shift: Shift) -> None:
    who = f"shift of {shift.worker_id} ({shift.role} {shift.unit_code})"
    if not 0 <= shift.start_minute < MINUTES_PER_DAY:
        raise ValueError(f"{who}: start minute {shift.start_minute} is outside 0–1439")
    if not 0 <= shift.end_minute <= MINUTES_PER_DAY:
        raise ValueError(f"{who}: end minute {shift.end_minute} is outside 0–1440")
    if not shift.weekdays or not shift.weekdays <= ALL_WEEKDAYS:
        raise ValueError(f"{who}: weekdays {sorted(shift.weekdays)} must be a non-empty subset of 1–7")
    expected: UnitLevel = ROLE_LEVEL[shift.role]
    if len(shift.unit_code) != expected or not shift.unit_code.isascii() or not shift.unit_code.isdigit():
        raise ValueError(
            f"{who}: a {shift.role} is rostered on a {expected.name.lower()} code "
            f"({expected.value} digits), not {shift.unit_code!r}"
        )
