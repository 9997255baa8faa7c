"""The cameras' own events at the centre: each topic looked up in the site's table (models.camera_events).

A tamper or video-loss topic opens a maintenance incident for the camera's grid: the event is routed like
any other (placed at the camera's mount), so the dedup key folds a second tamper into the incident still
open, exactly as a second crowd report would. Vendor analytics open the kind the site maps them to, or are
attached to the camera's open incident as context. An event that ends (``active`` false) opens nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

from models.camera_events import CameraEventTable, EventAction
from models.link import CameraEventReport, EventReport
from models.records import Event, EventPhase
from models.store import Store
from router.centre.bell import OutboxBell

logger = logging.getLogger(__name__)

Report = Callable[[EventReport], Awaitable[tuple[uuid.UUID, bool] | None]]


def describe(message: CameraEventReport) -> str:
    """The log note of an attached event: topic and data, e.g. ``tns1:…/ObjectsInside IsInside=true``."""
    items = " ".join(f"{k}={v}" for k, v in sorted(message.data.items()))
    return f"{message.topic} {items}".strip()


class CameraEventHandler:
    def __init__(self, table: CameraEventTable, report: Report, store: Store, bell: OutboxBell) -> None:
        self.table = table
        self._report = report
        self._store = store
        self._bell = bell
        #: Topics heard that no rule maps, each logged once.
        self.unmapped: set[str] = set()

    async def handle(self, message: CameraEventReport) -> tuple[uuid.UUID, bool] | None:
        """For an event that opened or joined an incident: (incident id, whether it was opened now)."""
        if not message.active:
            return None
        rule = self.table.lookup(message.topic)
        if rule is None:
            if message.topic not in self.unmapped:
                self.unmapped.add(message.topic)
                logger.info("camera event topic %s maps to nothing; ignored", message.topic)
            return None
        if rule.action is EventAction.IGNORE:
            return None
        if rule.action is EventAction.ATTACH:
            incident_id = await self._store.camera_events.attach(
                message.camera_id, message.at, describe(message)
            )
            if incident_id is None:
                logger.info(
                    "camera %s: %s with no open incident to attach to", message.camera_id, message.topic
                )
                return None
            self._bell.ring()
            return incident_id, False
        assert rule.kind is not None
        event = Event(
            kind=rule.kind,
            camera_id=message.camera_id,
            zone_name=None,
            started_at=message.at,
            confidence=1.0,
        )
        return await self._report(EventReport(EventPhase.START, event))
