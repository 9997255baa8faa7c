"""Roster API: read a unit's shifts and absences, replace or add shifts, record and remove leave.

Grid leaders and community duty manage their own area, township and county command theirs, admins all;
grid workers read their cases, not the roster (403). Every change is audited and applies to the running
router at once (router.centre.rosters.RosterDesk); other processes hear of it on the roster channel.
"""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, HTTPException, Request

from api.auth import Principal
from api.deps import CurrentPrincipal, RosterDeskDep, RoutingDep
from api.responses import AbsenceOut, RosterOut, ShiftsOut
from models.records import Absence, Post, Shift
from router.centre.rosters import OutOfScope, RosterDesk, RosterRefused
from router.duty import MINUTES_PER_DAY
from router.imports.roster import HEADER, parse_instant

router = APIRouter(prefix="/api/roster", tags=["roster"])

JsonBody = Annotated[Any, Body()]
#: Posts that manage a roster: everyone but the grid worker.
MANAGERS = frozenset({Post.GRID_LEADER, Post.COMMUNITY, Post.TOWNSHIP, Post.COUNTY_COMMAND, Post.ADMIN})


def _manager(principal: Principal, unit_code: str | None = None) -> None:
    if principal.role not in MANAGERS:
        raise HTTPException(403, f"a {principal.role} cannot read or change the roster")
    if unit_code is not None and not principal.sees(unit_code):
        raise HTTPException(403, f"unit {unit_code} is outside your area ({principal.scope or 'all'})")


def _unprocessable(problems: list[str]) -> HTTPException:
    return HTTPException(422, [{"reason": p} for p in problems])


def _hhmm(minute: int) -> str:
    return "24:00" if minute == MINUTES_PER_DAY else f"{minute // 60:02d}:{minute % 60:02d}"


def shift_json(shift: Shift) -> dict[str, Any]:
    return {
        "worker_id": shift.worker_id,
        "name": shift.name,
        "phone": shift.phone,
        "role": shift.role.value,
        "unit_code": shift.unit_code,
        "weekdays": sorted(shift.weekdays),
        "start": _hhmm(shift.start_minute),
        "end": _hhmm(shift.end_minute),
    }


def absence_json(absence: Absence) -> dict[str, Any]:
    return {
        "id": absence.id,
        "worker_id": absence.worker_id,
        "starts_at": absence.starts_at.isoformat(),
        "ends_at": absence.ends_at.isoformat(),
        "cover_id": absence.cover_id,
        "reason": absence.reason,
        "source": absence.source,
    }


def _shift_rows(body: Any) -> list[dict[str, str]]:
    """The body's shifts as the CSV importer's fields (strings), or 422 naming what is malformed."""
    if not isinstance(body, dict) or not isinstance(body.get("shifts"), list):
        raise _unprocessable(['the body must be a JSON object {"shifts": [...]}'])
    rows: list[dict[str, str]] = []
    problems: list[str] = []
    for i, item in enumerate(body["shifts"]):
        if not isinstance(item, dict):
            problems.append(f"shifts[{i}]: must be an object with {', '.join(HEADER)}")
            continue
        unknown = sorted(set(item) - set(HEADER))
        if unknown:
            problems.append(
                f"shifts[{i}]: unknown field(s) {', '.join(unknown)}; expected {', '.join(HEADER)}"
            )
        row: dict[str, str] = {}
        for key in HEADER:
            value = item.get(key, "")
            if key == "weekdays" and isinstance(value, list) and all(isinstance(d, int) for d in value):
                value = ",".join(str(d) for d in value)
            if not isinstance(value, str):
                problems.append(f"shifts[{i}], {key}: must be a string")
                value = ""
            row[key] = value
        rows.append(row)
    if problems:
        raise _unprocessable(problems)
    return rows


def _absence(body: Any, timezone: str) -> Absence:
    if not isinstance(body, dict):
        raise _unprocessable(
            ["the body must be a JSON object with worker_id, starts_at, ends_at, cover_id, reason"]
        )
    problems: list[str] = []
    text: dict[str, str | None] = {}
    for key, required in (("worker_id", True), ("starts_at", True), ("ends_at", True), ("cover_id", False),
                          ("reason", False)):  # fmt: skip
        value = body.get(key)
        if value is None or value == "":
            if required:
                problems.append(f"{key}: required")
            text[key] = None
        elif not isinstance(value, str):
            problems.append(f"{key}: must be a string")
        else:
            text[key] = value.strip()
    instants = {}
    for key in ("starts_at", "ends_at"):
        if text.get(key):
            try:
                instants[key] = parse_instant(str(text[key]), ZoneInfo(timezone))
            except ValueError as exc:
                problems.append(f"{key}: {exc}")
    if problems:
        raise _unprocessable(problems)
    return Absence(
        worker_id=str(text["worker_id"]),
        starts_at=instants["starts_at"],
        ends_at=instants["ends_at"],
        cover_id=text.get("cover_id"),
        reason=text.get("reason") or "",
    )


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else ""


@router.get("/{unit_code}", response_model=RosterOut)
async def read_roster(
    unit_code: str, desk: RosterDeskDep, routing: RoutingDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """The shifts of every unit under ``unit_code`` and the absences of the workers rostered there;
    ``version`` is the roster version the running router routes with (it moves once a change applied)."""
    _manager(principal, unit_code)
    shifts, absences = await desk.view(unit_code)
    return {
        "unit_code": unit_code,
        "version": routing.roster_version,
        "shifts": [shift_json(s) for s in shifts],
        "absences": [absence_json(a) for a in absences],
    }


async def _change(desk: RosterDesk, principal: Principal, request: Request, unit_code: str, body: Any, *,
                  add: bool) -> dict[str, Any]:  # fmt: skip
    _manager(principal, unit_code)
    rows = _shift_rows(body)
    try:
        if add:
            shifts = await desk.add_shifts(principal.name, unit_code, rows, _client(request))
        else:
            shifts = await desk.replace_shifts(principal.name, unit_code, rows, _client(request))
    except RosterRefused as exc:
        raise _unprocessable(exc.problems) from None
    return {"unit_code": unit_code, "shifts": [shift_json(s) for s in shifts]}


@router.put("/{unit_code}/shifts", response_model=ShiftsOut)
async def replace_shifts(
    unit_code: str, request: Request, desk: RosterDeskDep, principal: CurrentPrincipal, body: JsonBody = None
) -> dict[str, Any]:
    """Replace every shift of the units under ``unit_code``; applies to the next incident routed."""
    return await _change(desk, principal, request, unit_code, body, add=False)


@router.post("/{unit_code}/shifts", status_code=201, response_model=ShiftsOut)
async def add_shifts(
    unit_code: str, request: Request, desk: RosterDeskDep, principal: CurrentPrincipal, body: JsonBody = None
) -> dict[str, Any]:
    return await _change(desk, principal, request, unit_code, body, add=True)


@router.post("/absences", status_code=201, response_model=AbsenceOut)
async def add_absence(
    request: Request,
    desk: RosterDeskDep,
    routing: RoutingDep,
    principal: CurrentPrincipal,
    body: JsonBody = None,
) -> dict[str, Any]:
    """Record leave: the worker is skipped from ``starts_at`` to ``ends_at`` and the cover stands in."""
    _manager(principal)
    absence = _absence(body, routing.timezone)
    try:
        stored = await desk.add_absence(principal.name, principal.scope, absence, _client(request))
    except OutOfScope as exc:
        raise HTTPException(403, str(exc)) from None
    except RosterRefused as exc:
        raise _unprocessable(exc.problems) from None
    return absence_json(stored)


@router.delete("/absences/{absence_id}", status_code=204)
async def remove_absence(
    absence_id: str, request: Request, desk: RosterDeskDep, principal: CurrentPrincipal
) -> None:
    # The id is parsed after the post check, so a caller without the post learns nothing from a 422.
    _manager(principal)
    if not (absence_id.isascii() and absence_id.isdigit()) or len(absence_id) > 18:
        raise HTTPException(404, f"no absence {absence_id!r}")
    try:
        removed = await desk.remove_absence(
            principal.name, principal.scope, int(absence_id), _client(request)
        )
    except OutOfScope as exc:
        raise HTTPException(403, str(exc)) from None
    if removed is None:
        raise HTTPException(404, f"no absence {absence_id!r}")
