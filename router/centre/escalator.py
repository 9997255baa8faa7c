"""The escalation worker: fires due timers from the database, so a restart loses no deadline."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from models.clock import Clock
from models.store.timers import FiredTimer, TimerDue, TimerFiring, TimerRepository
from router.centre.bell import OutboxBell
from router.deadlines import DEFAULT_POLICY, DeadlinePolicy, TimerKind
from router.duty import Roster
from router.escalation import Standing, escalate

logger = logging.getLogger(__name__)

_NOBODY = Roster([])


class Escalator:
    """Poll for due timers; `roster` is read on every firing so a new roster applies at once."""

    def __init__(
        self,
        timers: TimerRepository,
        clock: Clock,
        roster: Callable[[], Roster | None],
        bell: OutboxBell,
        *,
        policy: DeadlinePolicy = DEFAULT_POLICY,
        poll_s: float = 1.0,
    ) -> None:
        self._timers = timers
        self._clock = clock
        self._roster = roster
        self._bell = bell
        self._policy = policy
        self._poll_s = poll_s
        self.fired = 0

    def decide(self, due: TimerDue, now: datetime) -> TimerFiring | None:
        standing = Standing(due.state, due.severity, due.unit_code, due.assignee_id, due.assignee_role)
        step = escalate(standing, TimerKind(due.kind), self._roster() or _NOBODY, now, self._policy)
        if step is None:
            return None
        target = step.to
        return TimerFiring(
            note=step.note,
            assignee_id=target.worker_id if target else None,
            assignee_name=target.name if target else None,
            assignee_phone=target.phone if target else None,
            assignee_role=target.role.value if target else None,
            next_due=step.next_due,
            tried=[[role.value, code, found] for role, code, found in step.tried],
        )

    async def run_once(self) -> list[FiredTimer]:
        now = self._clock.now()
        fired = await self._timers.fire_due(now, lambda due: self.decide(due, now))
        for t in fired:
            logger.info("timer %s (%s) of incident %s: %s", t.timer_id, t.kind, t.incident_id, t.outcome)
        self.fired += len(fired)
        if fired:
            self._bell.ring()
        return fired

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a database restart must not end the deadlines
                logger.exception("firing due timers failed; retrying in %.1f s", self._poll_s)
            await asyncio.sleep(self._poll_s)
