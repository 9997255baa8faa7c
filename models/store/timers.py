"""Deadline timers: one row per step's deadline, fired from the database so a restart loses none."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from models.records import IncidentState, Role, Severity
from models.store.base import Repository


@dataclass(frozen=True, slots=True)
class TimerDue:
    """A claimed, due timer and the incident as it stands: what escalation decides on."""

    timer_id: int
    kind: str
    due_at: datetime
    incident_id: uuid.UUID
    state: IncidentState
    severity: Severity
    unit_code: str
    assignee_id: str | None
    assignee_role: Role | None


@dataclass(frozen=True, slots=True)
class TimerFiring:
    """What to write for a missed deadline; assignee None keeps the assignee and only marks it late."""

    note: str
    assignee_id: str | None = None
    assignee_name: str | None = None
    assignee_phone: str | None = None
    assignee_role: str | None = None
    next_due: datetime | None = None
    tried: Sequence[Sequence[Any]] = ()


@dataclass(frozen=True, slots=True)
class FiredTimer:
    timer_id: int
    incident_id: uuid.UUID
    kind: str
    outcome: str  # escalated | late | stale


@dataclass(frozen=True, slots=True)
class TimerRecord:
    """A timer as kept: a fired or cancelled one is the record that its deadline was missed or met."""

    id: int
    kind: str
    due_at: datetime
    fired_at: datetime | None
    cancelled_at: datetime | None
    #: escalated | late | stale once fired; met:<state> once the step was taken (the cancel trigger).
    outcome: str | None


class TimerRepository(Repository):
    async def fire_due(
        self, now: datetime, decide: Callable[[TimerDue], TimerFiring | None], *, limit: int = 50
    ) -> list[FiredTimer]:
        """Fire up to `limit` timers due by `now`, each in its own transaction.

        A timer is claimed with FOR UPDATE SKIP LOCKED together with its incident, so two workers never
        fire one twice; `decide` (pure, from router.escalation) says what the miss means. The escalation,
        its log entry, the re-armed timer and the outbox row commit together with fired_at, so a crash
        either fires the timer completely or leaves it due for the next run.
        """
        fired: list[FiredTimer] = []
        for _ in range(limit):
            async with self.pool.acquire() as conn, conn.transaction():
                row = await conn.fetchrow(
                    "SELECT t.id AS timer_id, t.kind, t.due_at, i.id, i.state, i.severity, i.unit_code,"
                    " i.assignee_id, i.duty->>'role' AS assignee_role FROM timers t"
                    " JOIN incidents i ON i.id = t.incident_id"
                    " WHERE t.fired_at IS NULL AND t.cancelled_at IS NULL AND t.due_at <= $1"
                    " ORDER BY t.due_at, t.id LIMIT 1 FOR UPDATE OF t, i SKIP LOCKED",
                    now,
                )
                if row is None:
                    break
                due = TimerDue(
                    timer_id=row["timer_id"],
                    kind=row["kind"],
                    due_at=row["due_at"],
                    incident_id=row["id"],
                    state=IncidentState(row["state"]),
                    severity=Severity(row["severity"]),
                    unit_code=row["unit_code"],
                    assignee_id=row["assignee_id"],
                    assignee_role=Role(row["assignee_role"]) if row["assignee_role"] else None,
                )
                firing = decide(due)
                outcome = "stale" if firing is None else ("escalated" if firing.assignee_id else "late")
                await conn.execute(
                    "UPDATE timers SET fired_at = $2, outcome = $3 WHERE id = $1", due.timer_id, now, outcome
                )
                if firing is not None:
                    await _apply_escalation(conn, due, firing, now)
                fired.append(FiredTimer(due.timer_id, due.incident_id, due.kind, outcome))
        return fired

    async def of_incident(self, incident_id: uuid.UUID) -> list[TimerRecord]:
        rows = await self.pool.fetch(
            "SELECT id, kind, due_at, fired_at, cancelled_at, outcome FROM timers WHERE incident_id = $1"
            " ORDER BY id",
            incident_id,
        )
        return [TimerRecord(**dict(r)) for r in rows]


async def _apply_escalation(
    conn: asyncpg.Connection, due: TimerDue, firing: TimerFiring, now: datetime
) -> None:
    if firing.assignee_id is not None:
        await conn.execute(
            "UPDATE incidents SET late = true, escalation_level = escalation_level + 1,"
            " version = version + 1, updated_at = now(), assignee_id = $2, assignee_name = $3,"
            " assignee_phone = $4, duty = duty || jsonb_build_object('role', $5::text, 'escalated_from',"
            " $6::text, 'escalation_tried', $7::jsonb) WHERE id = $1",
            due.incident_id,
            firing.assignee_id,
            firing.assignee_name,
            firing.assignee_phone,
            firing.assignee_role,
            due.assignee_id,
            [list(t) for t in firing.tried],
        )
    else:
        await conn.execute(
            "UPDATE incidents SET late = true, version = version + 1, updated_at = now() WHERE id = $1",
            due.incident_id,
        )
    if firing.next_due is not None:
        await conn.execute(
            "INSERT INTO timers (incident_id, kind, due_at) VALUES ($1, $2, $3)",
            due.incident_id,
            due.kind,
            firing.next_due,
        )
    await conn.execute(
        "INSERT INTO incident_log (incident_id, from_state, to_state, action, actor, at, note)"
        " VALUES ($1, $2, $2, 'escalate', 'system:escalation', $3, $4)",
        due.incident_id,
        due.state.value,
        now,
        firing.note,
    )
    await conn.execute(
        "INSERT INTO outbox (topic, incident_id, payload) VALUES ('incident.escalated', $1, $2)",
        due.incident_id,
        {"incident_id": str(due.incident_id), "timer": due.kind, "to": firing.assignee_id},
    )
