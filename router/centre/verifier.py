"""Camera-verified closure, the centre's side: a resolved case is checked by the camera that reported it.

When a person resolves a crowd, occupation, fire or smoke incident (Casework calls ``resolved``), the
verifier asks the analysis role to keep judging the same zone rule on the same camera for the kind's window
(``WatchZone``); the answer (``ZoneReport``, through the intake) decides:

- CLEAR: the case is verified by the system, actor ``camera``, with the last clear snapshot attached;
- PRESENT: it is reopened with the fresh snapshot attached; the reopen keeps the assignee and arms fresh
  deadlines like any reopen (Casework), and its outbox row tells the assignee through the notifier;
- UNAVAILABLE (the camera was stopped, went offline, lost the zone): it stays resolved for a person to
  verify, and the reason is logged. So does a watch whose answer is overdue (window plus ``answer_slack``):
  a camera that delivered no frames never verifies anything by silence.

The person who resolved never verifies: the camera is its own actor (router.permissions.CAMERA), which may
only verify or reopen a resolved case, and which no HTTP route can hold. A second resolution (after a reopen)
starts a new watch that replaces the first; an answer to a replaced or abandoned watch is dropped, and so is
one arriving after a person already verified or reopened the case (the step finds it no longer resolved).
Pending watches live in memory: after a restart of the service, cases resolved before it wait for a person.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from models.clock import Clock
from models.incidents import Incident
from models.link import CommandSink, WatchZone, ZoneReport, ZoneVerdict
from models.records import EventKind, IncidentState
from models.store import OpenTwin, StaleVersion, Store
from router.centre.casework import Casework, Step
from router.lifecycle import Action
from router.permissions import CAMERA, NotAllowed
from router.verification import CLEAR_WINDOWS

logger = logging.getLogger(__name__)

#: Past the window, how long to wait for the camera's answer (its hysteresis grace, frame latency).
ANSWER_SLACK = timedelta(minutes=2)
#: Seconds between looks for overdue answers.
EXPIRY_PERIOD_S = 5.0


@dataclass(frozen=True, slots=True)
class Pending:
    watch_id: uuid.UUID
    camera_id: str
    zone_name: str
    due: datetime


class Verifier:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        casework: Casework,
        analysis: CommandSink,
        *,
        windows: Mapping[EventKind, timedelta] = CLEAR_WINDOWS,
        answer_slack: timedelta = ANSWER_SLACK,
    ) -> None:
        self._store = store
        self._clock = clock
        self._casework = casework
        self._analysis = analysis
        self._windows = dict(windows)
        self._slack = answer_slack
        self.pending: dict[uuid.UUID, Pending] = {}

    async def resolved(self, incident: Incident) -> None:
        """A person resolved the case: ask its camera to judge its zone, if its kind is camera-verified.

        Never raises: the resolution stands whatever happens to the watch (a person verifies instead).
        """
        window = self._windows.get(incident.kind)
        if window is None:
            return
        try:
            zone = await self._zone_of(incident)
            if zone is None:
                logger.info("incident %s has no camera zone to verify; a person verifies it", incident.id)
                return
            watch = Pending(uuid.uuid4(), incident.camera_id, zone, self._clock.now() + window + self._slack)
            self.pending[incident.id] = watch
            await self._analysis.send(
                WatchZone(
                    watch.watch_id,
                    incident.id,
                    incident.camera_id,
                    zone,
                    incident.kind,
                    window.total_seconds(),
                )
            )
            logger.info("camera %s watches zone %s for incident %s", incident.camera_id, zone, incident.id)
        except Exception:
            self.pending.pop(incident.id, None)
            logger.exception("incident %s: the camera could not be asked to verify it", incident.id)

    async def report(self, report: ZoneReport) -> None:
        """The camera's answer: verify, reopen, or leave the case to a person."""
        watch = self.pending.get(report.incident_id)
        if watch is None or watch.watch_id != report.watch_id:
            logger.info("dropped a stale camera answer on incident %s", report.incident_id)
            return
        del self.pending[report.incident_id]
        if report.verdict is ZoneVerdict.UNAVAILABLE or report.snapshot is None:
            logger.warning(
                "incident %s stays resolved for a person to verify: camera %s cannot (%s)",
                report.incident_id,
                report.camera_id,
                report.note,
            )
            return
        incident = await self._store.incidents.get(report.incident_id)
        if incident.state is not IncidentState.RESOLVED:
            logger.info("incident %s was %s before the camera answered", incident.id, incident.state.value)
            return
        blob = report.snapshot
        attachment_id = uuid.uuid4().hex
        await self._store.attachments.add(
            attachment_id,
            incident.id,
            blob.media_type,
            hashlib.sha256(blob.data).hexdigest(),
            blob.data,
            CAMERA.ident,
        )
        action = Action.VERIFY if report.verdict is ZoneVerdict.CLEAR else Action.REOPEN
        step = Step(action, note=report.note, attachments=(attachment_id,))
        try:
            try:
                await self._casework.take(incident, CAMERA, step, expected_state=IncidentState.RESOLVED)
            except OpenTwin:
                # The condition came back as a new episode, which opened an incident of its own: a duplicate
                # report of this case. It is folded in, so the rework is counted on the case it belongs to.
                twin = await self._store.verification.fold_twin(incident.id, at=self._clock.now())
                logger.info("incident %s: folded its recurrence %s before reopening", incident.id, twin)
                await self._casework.take(incident, CAMERA, step, expected_state=IncidentState.RESOLVED)
        except (StaleVersion, NotAllowed, OpenTwin) as exc:
            logger.info("incident %s moved on before the camera's %s: %s", incident.id, action.value, exc)
        else:
            logger.info(
                "camera %s %s incident %s: %s", report.camera_id, action.value, incident.id, report.note
            )

    def expire(self) -> list[uuid.UUID]:
        """Give up on watches whose answer is overdue: those cases wait for a person. Returns their ids."""
        now = self._clock.now()
        overdue = [incident_id for incident_id, watch in self.pending.items() if now >= watch.due]
        for incident_id in overdue:
            watch = self.pending.pop(incident_id)
            logger.warning(
                "incident %s stays resolved for a person to verify: camera %s did not answer by %s",
                incident_id,
                watch.camera_id,
                watch.due.isoformat(),
            )
        return overdue

    async def run(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_PERIOD_S)
            self.expire()

    async def _zone_of(self, incident: Incident) -> str | None:
        """The zone whose rule reported the case: that of its latest event on its camera."""
        events = await self._store.incidents.events(incident.id)
        zones = [e.zone_name for e in sorted(events, key=lambda e: e.started_at) if e.zone_name]
        return zones[-1] if zones else None
