"""Live rosters: the centre hears every roster change, whoever made it; cases move at a shift's end.

``RosterWatch`` listens on the store's roster channel (a change committed by ``gridwatch import-roster`` in
another process, or by the API here) and swaps the new roster into the router; a periodic version check
covers a lost listener connection. ``Handover`` gives the cases not yet accepted by someone whose shift
ended (or whose leave began) to whoever is on duty for the case now, through ``Casework.take`` so the
deadlines start again and the log says who and why. ``RosterDesk`` is the roster API's use case.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from models.clock import Clock
from models.incidents import Incident, IncidentFilter
from models.records import Absence, IncidentState, Post, Shift
from models.store import StaleVersion, Store
from models.store.base import TRANSIENT_DB_ERRORS
from models.store.roster import RosterListener
from router.centre.casework import Casework, Step
from router.centre.routing import Routing
from router.imports.roster import check_shift
from router.lifecycle import Action
from router.permissions import Actor

logger = logging.getLogger(__name__)

#: Who the incident log names for a handover: no person took the step, the shift's end did.
SYSTEM = Actor("system", Post.COUNTY_COMMAND)
HANDOVER_REASON = "handover"


class RosterWatch:
    """Reload the router's roster whenever the store's roster version moves on."""

    def __init__(self, store: Store, routing: Routing, *, recheck_s: float = 30.0) -> None:
        self._store = store
        self._routing = routing
        self._recheck_s = recheck_s
        self._changed = asyncio.Event()
        self.reloads = 0

    def _heard(self, version: int) -> None:
        if version != self._routing.roster_version:
            self._changed.set()

    async def check(self) -> bool:
        """Reload if the stored roster is newer than the router's; whether it did."""
        if await self._store.roster.version() == self._routing.roster_version:
            return False
        version = await self._routing.reload_roster()
        self.reloads += 1
        logger.info("roster reloaded at version %d", version)
        return True

    async def run(self) -> None:
        listener: RosterListener | None = None
        try:
            while True:
                # Cleared before the check: a change heard while we reload wakes the next round at once.
                self._changed.clear()
                try:
                    if listener is None or not listener.alive:
                        listener = await self._relisten(listener)
                    # A change committed before the listener was up is caught by this first check.
                    await self.check()
                except TRANSIENT_DB_ERRORS as exc:
                    logger.warning("roster check failed (%s); retrying in %.1f s", exc, self._recheck_s)
                except Exception:  # a bad roster row must not end the watch
                    logger.exception("roster reload failed; retrying in %.1f s", self._recheck_s)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), self._recheck_s)
        finally:
            if listener is not None:
                await listener.close()

    async def _relisten(self, old: RosterListener | None) -> RosterListener | None:
        if old is not None:
            logger.warning(
                "roster listener connection lost; checking every %.1f s until it is back", self._recheck_s
            )
            await old.close()
        try:
            return await self._store.roster.listen(self._heard)
        except TRANSIENT_DB_ERRORS as exc:
            logger.warning(
                "cannot listen for roster changes (%s); checking every %.1f s", exc, self._recheck_s
            )
            return None


class Handover:
    """At a shift's end, cases still waiting to be accepted go to whoever is on duty for them now."""

    def __init__(
        self, store: Store, casework: Casework, routing: Routing, clock: Clock, *, poll_s: float = 30.0
    ) -> None:
        self._store = store
        self._casework = casework
        self._routing = routing
        self._clock = clock
        self._poll_s = poll_s
        self.moved = 0

    async def run_once(self) -> list[Incident]:
        """Hand over every waiting case whose assignee is off duty now; returns the cases as moved."""
        roster = self._routing.roster()
        if roster is None:
            return []
        now = self._clock.now()
        moved: list[Incident] = []
        for incident in await self._waiting():
            held_by = incident.assignee_id
            if held_by is None or roster.at_work(held_by, now):
                continue
            target = roster.resolve(incident.unit_code, now).assignee
            if target is None or target.worker_id == held_by:
                continue
            why = "on leave" if held_by in roster.away(now) else "off duty"
            step = Step(
                Action.REASSIGN,
                note=f"shift handover: {held_by} is {why}; {target.name} ({target.worker_id}) takes over",
                reason=HANDOVER_REASON,
                assignee_id=target.worker_id,
            )
            try:
                moved.append(
                    await self._casework.take(incident, SYSTEM, step, expected_state=IncidentState.DISPATCHED)
                )
            except StaleVersion:
                continue  # accepted (or moved) since we read it: it stays where it is
            except TRANSIENT_DB_ERRORS:
                raise
            except Exception:  # one case that cannot move must not hold up the others
                logger.exception("handing over incident %s failed", incident.id)
                continue
            logger.info("incident %s handed over from %s to %s", incident.id, held_by, target.worker_id)
        self.moved += len(moved)
        return moved

    async def _waiting(self) -> list[Incident]:
        found: list[Incident] = []
        waiting = IncidentFilter(states=(IncidentState.DISPATCHED,))
        while True:
            page, total = await self._store.incidents.page(waiting, limit=500, offset=len(found))
            found += page
            if not page or len(found) >= total:
                return found

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a database restart must not end the handovers
                logger.exception("shift handover failed; retrying in %.1f s", self._poll_s)
            await asyncio.sleep(self._poll_s)


class RosterRefused(ValueError):
    """The change is refused as a whole; ``problems`` says each reason (a 422 body)."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


class OutOfScope(PermissionError):
    """The change touches units or workers outside the caller's scope; str() says which (a 403 body)."""


class RosterDesk:
    """Read and change a unit's roster; every change is audited and applies to the router at once."""

    def __init__(self, store: Store, routing: Routing) -> None:
        self._store = store
        self._routing = routing

    async def view(self, unit_code: str) -> tuple[list[Shift], list[Absence]]:
        """The shifts of the units under ``unit_code``, and the absences of the workers rostered there."""
        shifts = await self._store.roster.load(unit_code)
        workers = {s.worker_id for s in shifts}
        return shifts, [a for a in await self._store.roster.absences() if a.worker_id in workers]

    async def replace_shifts(
        self, actor: str, unit_code: str, rows: Sequence[Mapping[str, str]], client: str = ""
    ) -> list[Shift]:
        shifts = await self._checked(unit_code, rows)
        removed = await self._store.roster.replace_unit(unit_code, shifts)
        await self._audit(
            actor, "roster.replace", unit_code, f"{removed} shifts replaced by {len(shifts)}", client
        )
        return shifts

    async def add_shifts(
        self, actor: str, unit_code: str, rows: Sequence[Mapping[str, str]], client: str = ""
    ) -> list[Shift]:
        shifts = await self._checked(unit_code, rows)
        if not shifts:
            raise RosterRefused(["shifts: give at least one shift to add"])
        known = {_slot(s) for s in await self._store.roster.load(unit_code)}
        repeated = [
            f"shifts[{i}]: is already in the roster" for i, s in enumerate(shifts) if _slot(s) in known
        ]
        if repeated:
            raise RosterRefused(repeated)
        await self._store.roster.add(shifts)
        await self._audit(actor, "roster.add", unit_code, f"{len(shifts)} shifts added", client)
        return shifts

    async def add_absence(self, actor: str, scope: str, absence: Absence, client: str = "") -> Absence:
        """Record leave; the worker (and the cover) must be rostered within ``scope``."""
        problems: list[str] = []
        if absence.ends_at <= absence.starts_at:
            problems.append("ends_at: must be after starts_at")
        if absence.cover_id is not None and absence.cover_id == absence.worker_id:
            problems.append("cover_id: a worker cannot cover for themselves")
        shifts = await self._store.roster.load()
        for key, worker in (("worker_id", absence.worker_id), ("cover_id", absence.cover_id)):
            if worker is None:
                continue
            units = {s.unit_code for s in shifts if s.worker_id == worker}
            if not units:
                problems.append(f"{key}: no worker {worker!r} in the roster")
            elif not any(u.startswith(scope) for u in units):
                raise OutOfScope(f"{key}: worker {worker!r} is not rostered within your area")
        if problems:
            raise RosterRefused(problems)
        stored = await self._store.roster.add_absence(absence, actor)
        cover = f", covered by {absence.cover_id}" if absence.cover_id else ""
        away = f"{_stamp(absence.starts_at)}–{_stamp(absence.ends_at)}"
        await self._audit(
            actor,
            "roster.absence.add",
            f"absence:{stored.id}",
            f"{absence.worker_id} away {away}{cover}: {absence.reason}",
            client,
        )
        return stored

    async def remove_absence(
        self, actor: str, scope: str, absence_id: int, client: str = ""
    ) -> Absence | None:
        """Remove leave (None if there is no such absence); OutOfScope when the worker is not the caller's."""
        absence = await self._store.roster.absence(absence_id)
        if absence is None:
            return None
        units = {s.unit_code for s in await self._store.roster.load() if s.worker_id == absence.worker_id}
        if scope and not any(u.startswith(scope) for u in units):
            raise OutOfScope(f"worker {absence.worker_id!r} is not rostered within your area")
        removed = await self._store.roster.remove_absence(absence_id)
        if removed is not None:
            await self._audit(
                actor, "roster.absence.remove", f"absence:{absence_id}", absence.worker_id, client
            )
        return removed

    async def _checked(self, unit_code: str, rows: Sequence[Mapping[str, str]]) -> list[Shift]:
        known = await self._store.grids.unit_codes()
        if unit_code not in known:
            raise RosterRefused([f"unit {unit_code!r}: no such grid, community, township or county"])
        problems: list[str] = []
        shifts: list[Shift] = []
        for i, row in enumerate(rows):
            shift, found = check_shift(row, known, f"shifts[{i}]")
            problems += [str(p) for p in found]
            if shift is None:
                continue
            if not shift.unit_code.startswith(unit_code):
                problems.append(f"shifts[{i}], unit_code: {shift.unit_code} is not under {unit_code}")
            elif shift in shifts:
                problems.append(f"shifts[{i}]: repeats shifts[{shifts.index(shift)}]")
            else:
                shifts.append(shift)
        if problems:
            raise RosterRefused(problems)
        return shifts

    async def _audit(self, actor: str, action: str, object_id: str, reason: str, client: str) -> None:
        await self._store.audit.record(
            actor=actor,
            action=action,
            object_type="roster",
            object_id=object_id,
            reason=reason,
            client=client,
        )
        # Applies here at once; other processes hear of it on the roster channel.
        await self._routing.reload_roster()


def _stamp(at: datetime) -> str:
    return at.isoformat(timespec="minutes")


def _slot(shift: Shift) -> tuple[object, ...]:
    """A shift without the contact details: the same person, post and hours is the same shift."""
    return (
        shift.worker_id,
        shift.role,
        shift.unit_code,
        shift.weekdays,
        shift.start_minute,
        shift.end_minute,
    )
