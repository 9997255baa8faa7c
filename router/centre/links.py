"""A township's link problem: one incident while its uplink is down, ended when it is back.

The link monitor (api/nats/health.py) says when a township's link goes down and comes back; this turns that
into ONE event of kind LINK_DOWN, routed like any other (triage: the county's 运维 duty), so whoever is on
duty is paged as for any incident, and a second outage while the first case is open folds into it. The
event is placed at the township's first camera (by id): that puts the case inside the township on the map
and in its scope, without a location of its own. Camera-offline reports from the outage are folded into it
by the monitor, never routed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from models.link import EventReport
from models.records import Event, EventKind, EventPhase

logger = logging.getLogger(__name__)

Report = Callable[[EventReport], Awaitable[tuple[uuid.UUID, bool] | None]]
#: Logs a note on an incident: (incident id, at, action, actor, note).
Note = Callable[[uuid.UUID, datetime, str, str, str], Awaitable[None]]
#: The log action and actor of a link restored.
RESTORED = "link_restored"
ACTOR = "system:link"


class LinkProblems:
    def __init__(
        self,
        report: Report,
        cameras: Callable[[], Iterable[str]],
        township_of: Callable[[str], str | None],
        note: Note | None = None,
    ) -> None:
        """``cameras``: the ids the centre knows now; ``township_of``: the township that runs one; ``note``:
        where the link coming back is logged on its case."""
        self._report = report
        self._note = note
        #: The case each township's link problem is recorded in, and how long a link now back was down.
        self.cases: dict[str, uuid.UUID] = {}
        self.restored: dict[str, timedelta] = {}
        self._cameras = cameras
        self._township_of = township_of
        #: The LINK_DOWN event of each township whose link is down now.
        self.open: dict[str, Event] = {}

    async def down(self, township: str, at: datetime) -> uuid.UUID | None:
        """Open (or fold into) the township's link incident; its id, or None for a township with no camera."""
        cameras = sorted(c for c in self._cameras() if self._township_of(c) == township)
        if not cameras:
            logger.warning("township %s: link down, but no camera to place the problem at", township)
            return None
        event = Event(
            kind=EventKind.LINK_DOWN, camera_id=cameras[0], zone_name=None, started_at=at, confidence=1.0
        )
        self.open[township] = event
        opened = await self._report(EventReport(EventPhase.START, event))
        if opened is None:
            return None
        self.cases[township] = opened[0]
        return opened[0]

    async def still_down(self, event: Event) -> None:
        """A camera folded into an outage that is still down once the link is back: routed as it was sent."""
        await self._report(EventReport(EventPhase.START, event))

    async def up(self, township: str, at: datetime) -> None:
        """The link is back: the event ends; the case stays with the duty to resolve (a cut that healed
        itself may cut again), as a camera's does when its picture returns."""
        event = self.open.pop(township, None)
        if event is None:
            return
        self.restored[township] = at - event.started_at
        await self._report(EventReport(EventPhase.END, replace(event, ended_at=at)))

    async def drained(self, township: str, at: datetime, folded: int) -> None:
        """What the township held through the outage has arrived: its case says so, and how many camera
        reports it took in."""
        case, outage = self.cases.pop(township, None), self.restored.pop(township, None)
        if case is None or self._note is None:
            return
        note = f"乡镇 {township} 链路恢复 link restored"
        if outage is not None:
            note += f" after {outage.total_seconds() / 60:.1f} min"
        await self._note(case, at, RESTORED, ACTOR, f"{note}; {folded} camera-offline reports folded into it")
