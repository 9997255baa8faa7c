"""What the KPIs (综合评价) are computed from: the cases opened in a range, their log and their deadlines.

Only reads. The figures themselves are router/kpis.py, pure over these rows, so an auditor can recompute
them from the same three tables.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from models.store.base import Repository


@dataclass(frozen=True, slots=True)
class CaseRow:
    id: uuid.UUID
    opened_at: datetime
    state: str
    unit_code: str
    grid_code: str | None
    department: str
    assignee_id: str | None
    assignee_name: str | None
    #: Reports folded into the case by dedup, its first included (0 once folded into a twin).
    event_count: int


@dataclass(frozen=True, slots=True)
class LogRow:
    incident_id: uuid.UUID
    from_state: str | None
    to_state: str
    action: str
    actor: str
    at: datetime
    reason: str | None
    #: The deadlines this entry met late (migration 0011).
    late_steps: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TimerRow:
    incident_id: uuid.UUID
    kind: str
    due_at: datetime
    fired_at: datetime | None
    cancelled_at: datetime | None
    outcome: str | None
    #: Whether the step that met it came after due_at; None until a step met it (migration 0011).
    late: bool | None


@dataclass(frozen=True, slots=True)
class KpiRows:
    cases: list[CaseRow]
    log: list[LogRow]
    timers: list[TimerRow]
    #: Unit code → name, for every unit of the installation (grids, communities, townships).
    unit_names: dict[str, str]


class KpiRepository(Repository):
    async def rows(self, scope: str, since: datetime, until: datetime) -> KpiRows:
        """The cases under unit prefix ``scope`` ("" for all) opened in [since, until), with all of their
        log entries and timers (also those written after ``until``: a case is judged as it stands)."""
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            cases = await conn.fetch(
                "SELECT id, opened_at, state, unit_code, grid_code, department, assignee_id, assignee_name,"
                " event_count FROM incidents WHERE unit_code LIKE $1 AND opened_at >= $2 AND opened_at < $3"
                " ORDER BY opened_at, id",
                scope + "%",
                since,
                until,
            )
            ids = [r["id"] for r in cases]
            log = await conn.fetch(
                "SELECT incident_id, from_state, to_state, action, actor, at, reason, late_steps"
                " FROM incident_log WHERE incident_id = ANY($1) ORDER BY incident_id, at, id",
                ids,
            )
            timers = await conn.fetch(
                "SELECT incident_id, kind, due_at, fired_at, cancelled_at, outcome, late FROM timers"
                " WHERE incident_id = ANY($1) ORDER BY incident_id, id",
                ids,
            )
            units = await conn.fetch("SELECT code, name FROM units")
        return KpiRows(
            cases=[CaseRow(**dict(r)) for r in cases],
            log=[LogRow(**{**dict(r), "late_steps": tuple(r["late_steps"])}) for r in log],
            timers=[TimerRow(**dict(r)) for r in timers],
            unit_names={r["code"]: r["name"] for r in units},
        )
