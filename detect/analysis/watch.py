"""Camera-verified closure on the analysis side: one zone rule judged for a window after a resolution.

The centre sends ``WatchZone`` when a crowd, occupation, fire or smoke incident is resolved; the camera's
analysis keeps running exactly as before (the same rule object, with its dwell and hysteresis state), and a
``ZoneWatch`` reads that rule's state on every analysed frame until it can answer.

What "clear" means: the rule neither starts an episode for the zone nor keeps one open, from the moment its
own hysteresis could have ended an episode open at resolution (the grace: ``zone.cooldown_seconds`` after
the watch began, plus ``GRACE_MARGIN_S``) until the window is over. On each analysed frame of the camera:

- a START of the rule for the zone → PRESENT at once (the condition came back within the window);
- the rule's episode is still open once the grace has passed since the watch began → PRESENT: the
  condition never went away, or the rule would have ended the episode by then;
- the episode is open but within that grace → no answer yet (it may still end by the rule's hysteresis);
- the window has passed and no episode is open → CLEAR, with this frame as the last clear snapshot.

The window is measured on frame time (the source's injected clock), from the first frame analysed after
the command, so a camera that delivers no frames never answers CLEAR by default; the node answers
UNAVAILABLE when it knows the camera cannot answer (stopped, offline, its zone gone), and the centre gives
up on a watch whose answer is overdue.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime

import numpy as np

from detect.analysis.analyzer import CameraAnalyzer, jpeg_blob
from detect.analysis.evidence import render_snapshot
from models.link import EventReport, WatchZone, ZoneReport, ZoneVerdict
from models.records import Camera, Detection, EventKind, EventPhase, ZoneKind

#: Beyond the zone's cooldown, what an episode open at resolution may take to end: the rules' own dropout
#: tolerance (a person missed for a second still counts), a few analysed frames, the handler's last
#: seconds on the spot.
GRACE_MARGIN_S = 5.0

#: The zone kind whose rule reports each incident kind the camera can verify.
ZONE_KINDS = {
    EventKind.CROWD: ZoneKind.CROWD,
    EventKind.OCCUPATION: ZoneKind.OCCUPATION,
    EventKind.FIRE: ZoneKind.FIRE,
    EventKind.SMOKE: ZoneKind.FIRE,
}


class ZoneWatch:
    """Not thread-safe: fed one camera's analysed frames in time order by the node."""

    def __init__(self, command: WatchZone, cooldown_s: float | None) -> None:
        self.command = command
        #: An episode open when the watch began gets this long to end on the rule's own hysteresis; None
        #: until the camera's record is known (the first frame brings it).
        self.grace_s = None if cooldown_s is None else cooldown_s + GRACE_MARGIN_S
        self.began_at: datetime | None = None

    def restart(self, cooldown_s: float) -> None:
        """The camera was restarted with a fresh rule, which remembers nothing: judge a whole window again."""
        self.grace_s = cooldown_s + GRACE_MARGIN_S
        self.began_at = None

    def observe(self, at: datetime, *, started: bool, open_: bool) -> ZoneVerdict | None:
        """One analysed frame: whether the rule started an episode on it, and whether one is open after it."""
        if self.began_at is None:
            self.began_at = at
        elapsed = (at - self.began_at).total_seconds()
        if started or (open_ and elapsed >= (self.grace_s or 0.0)):
            return ZoneVerdict.PRESENT
        if open_:
            return None
        if elapsed >= self.command.window_s:
            return ZoneVerdict.CLEAR
        return None


def watched_zone_cooldown(camera: Camera, command: WatchZone) -> float | None:
    """The hysteresis of the camera's zone that reports the command's kind, or None when it has no such zone.

    Fire and smoke both come from a fire zone; crowd and occupation from zones of their own kind.
    """
    wanted = ZONE_KINDS.get(command.kind)
    for zone in camera.zones:
        if zone.name == command.zone_name and zone.kind is wanted:
            return zone.cooldown_seconds
    return None


class Watches:
    """Every zone watch the node holds, by incident: what the camera commands and frames do to them.

    Each method returns the answers that are ready, for the node to publish; a watch leaves once answered.
    """

    def __init__(self) -> None:
        self._by_incident: dict[uuid.UUID, ZoneWatch] = {}

    def on(self, camera_id: str) -> bool:
        return any(w.command.camera_id == camera_id for w in self._by_incident.values())

    def add(self, command: WatchZone, camera: Camera | None, at: datetime) -> list[ZoneReport]:
        """Start a watch (replacing the incident's earlier one: a second resolution starts afresh).

        A camera the node does not run yet is watched anyway (it may be started after the command; its first
        frame brings its record); if it never delivers a frame the centre gives up when the answer is overdue.
        """
        self._by_incident.pop(command.incident_id, None)
        cooldown = None
        if camera is not None:
            cooldown = watched_zone_cooldown(camera, command)
            if cooldown is None or not camera.enabled:
                return [_unavailable(command, at, "the camera no longer watches this zone")]
        self._by_incident[command.incident_id] = ZoneWatch(command, cooldown)
        return []

    def restarted(self, camera: Camera, at: datetime) -> list[ZoneReport]:
        """The camera runs again with this record: its rules start with no memory, so windows start again."""
        answers = []
        for watch in self._of(camera.id):
            cooldown = watched_zone_cooldown(camera, watch.command)
            if cooldown is None or not camera.enabled:
                answers.append(
                    self._drop(watch, at, "the camera was changed and no longer watches this zone")
                )
            else:
                watch.restart(cooldown)
        return answers

    def lost(self, camera_id: str, at: datetime, why: str) -> list[ZoneReport]:
        """The camera cannot answer (stopped, removed, offline): a person has to verify."""
        return [self._drop(watch, at, why) for watch in self._of(camera_id)]

    async def judge(
        self,
        camera: Camera,
        analyzer: CameraAnalyzer,
        image: np.ndarray,
        at: datetime,
        detections: Sequence[Detection],
        reports: Sequence[EventReport],
    ) -> list[ZoneReport]:
        """One analysed frame of the camera, after its rules ran: the answers it settles, with snapshots.

        Watches change on the event loop only (the centre's commands change them there too); the JPEG of a
        verdict's frame is drawn on a worker thread.
        """
        answers = []
        for answer in self._verdicts(camera, analyzer, at, reports):
            if answer.verdict is not ZoneVerdict.UNAVAILABLE:
                jpeg = await asyncio.to_thread(render_snapshot, image, detections, camera.zones)
                answer = dataclasses.replace(answer, snapshot=jpeg_blob(jpeg, "snapshot"))
            answers.append(answer)
        return answers

    def _verdicts(
        self, camera: Camera, analyzer: CameraAnalyzer, at: datetime, reports: Sequence[EventReport]
    ) -> list[ZoneReport]:
        answers = []
        for watch in self._of(camera.id):
            command = watch.command
            if watch.grace_s is None:
                cooldown = watched_zone_cooldown(camera, command)
                if cooldown is None:
                    answers.append(self._drop(watch, at, "the camera does not watch this zone"))
                    continue
                watch.restart(cooldown)
            started = any(
                r.phase is EventPhase.START
                and r.event.zone_name == command.zone_name
                and r.event.kind is command.kind
                for r in reports
            )
            verdict = watch.observe(
                at, started=started, open_=analyzer.is_open(command.zone_name, command.kind)
            )
            if verdict is None:
                continue
            del self._by_incident[command.incident_id]
            seconds = (at - watch.began_at).total_seconds() if watch.began_at is not None else 0.0
            note = (
                f"camera clear of {command.kind.value} in zone {command.zone_name} for {seconds:.0f} s"
                if verdict is ZoneVerdict.CLEAR
                else f"camera still sees {command.kind.value} in zone {command.zone_name} {seconds:.0f} s"
                " after resolution"
            )
            answers.append(
                ZoneReport(command.watch_id, command.incident_id, camera.id, verdict, at, None, note)
            )
        return answers

    def _of(self, camera_id: str) -> list[ZoneWatch]:
        return [w for w in self._by_incident.values() if w.command.camera_id == camera_id]

    def _drop(self, watch: ZoneWatch, at: datetime, why: str) -> ZoneReport:
        del self._by_incident[watch.command.incident_id]
        return _unavailable(watch.command, at, why)


def _unavailable(command: WatchZone, at: datetime, why: str) -> ZoneReport:
    return ZoneReport(
        command.watch_id, command.incident_id, command.camera_id, ZoneVerdict.UNAVAILABLE, at, None, why
    )
