"""Engineer tools: `gridwatch locate` (pixel → ground → grid → who is on duty) and `gridwatch duty`.

Both read the grids, roster and cameras the service would use from the database, so what they print
is what the router will do; on site they check a calibration by clicking a known spot.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from api.cli.common import app, fail, out, run_with_store
from api.problems import UsageProblem
from models.clock import SystemClock
from models.records import Absence, Assignee, Camera, EventKind, Grid, Shift, Unit
from models.settings import Settings
from models.store import Store
from router.duty import Roster, fallback_chain
from router.geo import CalibrationError, OffGroundError, camera_homography
from router.grids import GridIndex, unit_level
from router.triage import DEFAULT_TABLE

At = Annotated[
    str | None,
    typer.Option("--at", help="ISO time, e.g. 2026-11-23T10:00+08:00 (no offset: --tz local); default now"),
]
Absent = Annotated[
    list[str] | None, typer.Option("--absent", help="Worker id on leave or unreachable (repeatable)")
]
Tz = Annotated[str, typer.Option("--tz", help="Time zone of the roster's wall-clock times")]
AsJson = Annotated[bool, typer.Option("--json", help="One JSON document")]


@dataclass(frozen=True, slots=True)
class _Site:
    grids: tuple[Grid, ...]
    units: tuple[Unit, ...]
    shifts: tuple[Shift, ...]
    cameras: dict[str, Camera]
    #: Stored leave (the roster API, the roster CSV); --absent adds to it for one lookup.
    absences: tuple[Absence, ...] = ()


def _load() -> _Site:
    async def work(store: Store) -> _Site:
        cameras = {c.id: c for c in await store.cameras.load()}
        grids, units, shifts = await store.grids.load(), await store.grids.units(), await store.roster.load()
        absences = await store.roster.absences()
        return _Site(tuple(grids), tuple(units), tuple(shifts), cameras, tuple(absences))

    return run_with_store(Settings(), work)


def parse_instant(text: str | None, tz: ZoneInfo) -> datetime:
    if text is None:
        return SystemClock().now().astimezone(tz)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise UsageProblem(f"--at {text!r} is not an ISO time such as 2026-11-23T10:00+08:00") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=tz)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageProblem(f"--tz {name!r} is not an IANA time zone such as Asia/Shanghai") from None


def _person(a: Assignee | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {
        "worker_id": a.worker_id,
        "name": a.name,
        "phone": a.phone,
        "role": a.role.value,
        "unit": a.unit_code,
    }


def duty_report(roster: Roster, unit_code: str, at: datetime, absent: frozenset[str]) -> dict[str, Any]:
    """Who is on duty and the whole fallback chain: each tier with everyone rostered on at `at`."""
    result = roster.resolve(unit_code, at, absent)
    away = roster.away(at, absent)
    chain = []
    for role, code in fallback_chain(unit_code):
        on = roster.on_duty(role, code, at)
        chain.append(
            {
                "role": role.value,
                "unit_code": code,
                "on_duty": [_person(a) for a in on if a.worker_id not in away],
                "absent": [a.worker_id for a in on if a.worker_id in away],
            }
        )
    return {
        "unit_code": unit_code,
        "at": at.isoformat(),
        "assignee": _person(result.assignee),
        "chain": chain,
        "covers": [{"absent": absent_id, "cover": cover} for absent_id, cover in result.covers],
    }


def locate_report(
    site: _Site, camera_id: str, x: float, y: float, at: datetime, absent: frozenset[str]
) -> dict[str, Any]:
    camera = site.cameras.get(camera_id)
    if camera is None:
        known = ", ".join(sorted(site.cameras)) or "none imported"
        raise UsageProblem(f"unknown camera {camera_id!r} (known: {known})")
    width, height = camera.frame_size
    if not (0 <= x <= width and 0 <= y <= height):
        raise UsageProblem(f"pixel ({x:g}, {y:g}) is outside the {width}×{height} frame of {camera_id}")
    if not site.grids:
        raise UsageProblem("no grids in the database: run gridwatch import-grids first")
    try:
        homography = camera_homography(camera)
        lonlat = homography.to_ground((x, y)) if homography else camera.mount.lonlat
    except (CalibrationError, OffGroundError) as exc:
        raise UsageProblem(f"{camera_id}: {exc}") from None
    grids = GridIndex(site.grids)
    place = grids.locate(lonlat)
    grid_kind = grids.grid_kind(place.grid_code)
    departments = {}
    for kind in EventKind:
        t = DEFAULT_TABLE.triage(kind, grid_kind)
        departments[kind.value] = {
            "department": t.department,
            "severity": t.severity.name.lower(),
            "tier": t.tier.value,
            "category_code": t.category_code,
        }
    return {
        "camera_id": camera_id,
        "pixel": [x, y],
        "lonlat": [round(lonlat[0], 7), round(lonlat[1], 7)],
        "located_by": "homography" if homography else "camera_mount",
        "reprojection_error_m": round(homography.reprojection_error_m, 3) if homography else None,
        "grid_match": place.grid_match.value,
        "grid_code": place.grid_code,
        "unit_code": place.unit_code,
        "distance_m": round(place.distance_m, 1),
        "chain": [{"code": u.code, "name": u.name, "level": u.level.name.lower()} for u in place.chain],
        "departments": departments,
        "duty": duty_report(
            Roster(site.shifts, tz=str(at.tzinfo), absences=site.absences), place.unit_code, at, absent
        ),
    }


def _say(line: str) -> None:
    out.print(line, markup=False)


def _print_duty(duty: dict[str, Any]) -> None:
    who = duty["assignee"]
    out.print(f"on duty   {_who(who) if who else 'nobody on the whole chain'}", markup=False)
    for step in duty["chain"]:
        names = ", ".join(_who(p, role=False) for p in step["on_duty"]) or "—"
        away = f"  (absent: {', '.join(step['absent'])})" if step["absent"] else ""
        out.print(f"  {step['role']:<15} {step['unit_code']:<16} {names}{away}", markup=False)
    for cover in duty.get("covers", ()):
        out.print(f"  cover     {cover['cover']} stands in for {cover['absent']}", markup=False)


def _who(p: dict[str, Any], *, role: bool = True) -> str:
    extra = f", {p['role']} {p['unit']}" if role else ""
    return f"{p['worker_id']} {p['name']} {p['phone']}{extra}"


def _run(action: Callable[[], None]) -> None:
    try:
        action()
    except UsageProblem as exc:
        fail(exc.problems)


@app.command()
def locate(
    camera_id: Annotated[str, typer.Argument(help="Camera id")],
    x: Annotated[float, typer.Argument(help="Pixel column of a ground point (e.g. a person's feet)")],
    y: Annotated[float, typer.Argument(help="Pixel row of that point")],
    at: At = None,
    absent: Absent = None,
    tz: Tz = "Asia/Shanghai",
    as_json: AsJson = False,
) -> None:
    """Where a pixel lies on the ground, its grid chain, owning departments and who is on duty."""

    def action() -> None:
        instant = parse_instant(at, _zone(tz)).astimezone(_zone(tz))
        report = locate_report(_load(), camera_id, x, y, instant, frozenset(absent or ()))
        if as_json:
            sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=1) + "\n")
            return
        r = report
        _say(f"ground    {r['lonlat'][0]:.7f}, {r['lonlat'][1]:.7f} ({r['located_by']})")
        _say(f"grid      {r['grid_code'] or '—'} ({r['grid_match']}, {r['distance_m']} m)")
        _say("chain     " + " › ".join(f"{u['name']} {u['code']}" for u in r["chain"]))
        _say("departments")
        for kind, d in r["departments"].items():
            _say(f"  {kind:<15} {d['department']} ({d['severity']}, {d['tier']} tier)")
        _say(f"at        {instant.isoformat()}")
        _print_duty(report["duty"])

    _run(action)


@app.command()
def duty(
    unit_code: Annotated[str, typer.Argument(help="Grid, community, township or county code")],
    at: At = None,
    absent: Absent = None,
    tz: Tz = "Asia/Shanghai",
    as_json: AsJson = False,
) -> None:
    """Who is on duty for a unit at an instant, and the fallback chain above them."""

    def action() -> None:
        try:
            unit_level(unit_code)
        except ValueError as exc:
            raise UsageProblem(str(exc)) from None
        instant = parse_instant(at, _zone(tz)).astimezone(_zone(tz))
        site = _load()
        if unit_code not in {u.code for u in site.units}:
            raise UsageProblem(f"unknown unit {unit_code!r}: import grids that contain it first")
        report = duty_report(
            Roster(site.shifts, tz=tz, absences=site.absences), unit_code, instant, frozenset(absent or ())
        )
        if as_json:
            sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=1) + "\n")
            return
        out.print(f"unit      {unit_code} at {instant.isoformat()}", markup=False)
        _print_duty(report)

    _run(action)
