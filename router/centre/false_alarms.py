"""Dismissed fire and smoke alarms, the centre's side: the camera stops calling the same spot fire.

When a person rejects a fire or smoke incident with the reason ``false_alarm`` (误报), each of its events'
boxes (the region the fire model called fire or smoke) goes to the analysis role as a ``SuppressRegion``
for that camera, for ``hold`` (the site's ``detectors.fire.false_alarm_hold_hours``). The node then
ignores fire/smoke boxes lying mostly inside that region (detect/analysis/suppression.py) until it expires.
Only the region is silenced: a fire elsewhere in the picture, or one spreading beyond it, is still reported.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from models.clock import Clock
from models.incidents import Incident
from models.link import CommandSink, SuppressRegion
from models.records import EventKind
from models.store import Store
from router.policies import Policies

logger = logging.getLogger(__name__)

#: How long a dismissed region stays silenced by default: a camera-day, long enough to cover the same
#: sun angle or lamp the next evening is not, so the spot is looked at again after a day.
FALSE_ALARM_HOLD = timedelta(hours=24)
FIRE_KINDS = (EventKind.FIRE, EventKind.SMOKE)
REASON = "false_alarm"


class FalseAlarms:
    def __init__(
        self, store: Store, clock: Clock, analysis: CommandSink, *, policies: Policies | None = None
    ) -> None:
        """``policies``: the site's (``policies.false_alarm_hold_hours``); None holds a camera-day."""
        self._store = store
        self._clock = clock
        self._analysis = analysis
        self._hold = policies.false_alarm_hold if policies is not None else FALSE_ALARM_HOLD

    async def rejected(self, incident: Incident, reason: str | None) -> None:
        """A person rejected the case; a fire or smoke false alarm silences its region on its camera.

        Never raises: the rejection stands whatever happens to the command.
        """
        if reason != REASON or incident.kind not in FIRE_KINDS or self._hold <= timedelta(0):
            return
        try:
            until = self._clock.now() + self._hold
            for event in await self._store.incidents.events(incident.id):
                boxes = [b.xyxy for b in event.boxes if b.label in FIRE_KINDS]
                if not boxes:
                    continue
                region = (
                    min(b[0] for b in boxes),
                    min(b[1] for b in boxes),
                    max(b[2] for b in boxes),
                    max(b[3] for b in boxes),
                )
                await self._analysis.send(
                    SuppressRegion(event.camera_id, FIRE_KINDS, region, until, incident.id)
                )
                logger.info(
                    "incident %s dismissed as a false alarm: camera %s ignores that region until %s",
                    incident.id,
                    event.camera_id,
                    until.isoformat(),
                )
        except Exception:
            logger.exception("incident %s: the camera could not be told of the false alarm", incident.id)
