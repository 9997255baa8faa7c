"""One camera's analysis: tracking, a rule per zone, and Events with their JPEG evidence."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Collection, Sequence
from datetime import datetime

import numpy as np

from detect.analysis.clips import ClipJob, ClipRecorder
from detect.analysis.evidence import clean_snapshot, render_snapshot
from detect.analysis.suppression import Suppressions
from detect.ground import zone_area_m2
from detect.labels import Meaning
from detect.rules import (
    CrowdRule,
    FallRule,
    FireRule,
    LineCrossingRule,
    Model,
    OccupationRule,
    Phase,
    Rule,
    RuleOutput,
    model_of,
)
from detect.static_mass import StaticMass
from detect.tracking import ByteTracker, Tracker
from models.link import EventReport
from models.records import Camera, Detection, Event, EventKind, Evidence, EvidenceBlob, Zone, ZoneKind

logger = logging.getLogger(__name__)

JPEG = "image/jpeg"
#: Every detector ran on the frame: the default for callers with one detector that finds everything.
ALL_MODELS: frozenset[Model] = frozenset(Model)
_UNTRACKED = frozenset({Meaning.FIRE, Meaning.SMOKE})


def rules_for(
    zone: Zone, *, area_m2: float | None = None, frame_size: tuple[int, int] | None = None
) -> list[Rule]:
    """The default rules of a zone kind; ``area_m2``: the zone's ground area, for crowd density;
    ``frame_size``: the camera's picture, for the fire rules' jitter allowance.

    Zones where people walk also watch for falls; the fall rule stays idle unless the camera's person
    detector has a fall class, so it costs nothing elsewhere.
    """
    if zone.kind is ZoneKind.CROWD:
        return [CrowdRule(zone, area_m2=area_m2), FallRule(zone)]
    if zone.kind is ZoneKind.OCCUPATION:
        static = StaticMass(zone) if zone.static_mass is not None else None
        return [OccupationRule(zone, static=static), FallRule(zone)]
    if zone.kind is ZoneKind.LINE:
        return [LineCrossingRule(zone)]
    return [
        FireRule(zone, kind=EventKind.FIRE, frame_size=frame_size),
        FireRule(zone, kind=EventKind.SMOKE, frame_size=frame_size),
    ]


def ground_area(camera: Camera, zone: Zone) -> float | None:
    """A crowd zone's area on the ground, when it has a density threshold and the camera a calibration."""
    if zone.kind is not ZoneKind.CROWD:
        return None
    if zone.min_density_per_m2 is None and all(w.min_density_per_m2 is None for w in zone.crowd_windows):
        return None
    return zone_area_m2(camera, zone)


def evidence_of(jpeg: bytes, role: str = "snapshot") -> Evidence:
    """Content-addressed: the id is the sha256, so storing the same snapshot twice is harmless."""
    digest = hashlib.sha256(jpeg).hexdigest()
    return Evidence(id=digest, media_type=JPEG, sha256=digest, size=len(jpeg), role=role)


def jpeg_blob(jpeg: bytes, role: str) -> EvidenceBlob:
    return EvidenceBlob(role, JPEG, hashlib.sha256(jpeg).hexdigest(), jpeg)


class CameraAnalyzer:
    """Not thread-safe: one per camera, fed that camera's analysed frames in time order."""

    def __init__(
        self,
        camera: Camera,
        *,
        tracker: Tracker | None = None,
        rules: Callable[[Zone], Sequence[Rule]] = rules_for,
        clips: ClipRecorder | bool = True,
        suppressions: Suppressions | None = None,
    ) -> None:
        self.camera = camera
        #: Dismissed false-alarm regions (the node's, shared by all its cameras): their boxes never vote.
        self.suppressions = suppressions
        #: Every event START gets a clip of the frames around it; True builds the default recorder.
        self.clips: ClipRecorder | None = (
            clips if isinstance(clips, ClipRecorder) else ClipRecorder.for_camera(camera) if clips else None
        )
        self._tracker: Tracker = (
            tracker if tracker is not None else ByteTracker(frame_rate=camera.analysis_fps)
        )
        self._rules: list[Rule] = [
            rule
            for zone in camera.zones
            # The default rules get the crowd zone's ground area from the camera's calibration.
            for rule in (
                rules_for(zone, area_m2=ground_area(camera, zone), frame_size=camera.frame_size)
                if rules is rules_for
                else rules(zone)
            )
        ]
        self._open: dict[tuple[str, EventKind], Event] = {}

    @property
    def models(self) -> frozenset[Model]:
        """The detectors this camera's rules read: the service runs the fire model only where it is needed."""
        return frozenset(model_of(rule) for rule in self._rules)

    def analyze(
        self,
        detections: list[Detection],
        image: np.ndarray,
        at: datetime,
        *,
        ran: Collection[Model] = ALL_MODELS,
    ) -> list[EventReport]:
        """Feed one analysed frame: ``detections`` from every detector in ``ran``, the ones that saw it.

        A rule whose detector did not run on this frame is not fed it at all: to a voting rule an empty
        frame is a "no" vote, and a fire model run every fourth frame would otherwise never reach k of n.
        """
        if self.suppressions is not None:
            detections = self.suppressions.filter(self.camera.id, detections, at)
        # Fire and smoke boxes stay out of the tracker: it associates boxes whatever their label, and a
        # flame over a passer-by would take over that person's track.
        tracked = [
            *self._tracker.update([d for d in detections if d.label not in _UNTRACKED]),
            *(d for d in detections if d.label in _UNTRACKED),
        ]
        outputs: list[EventReport] = []
        for rule in self._rules:
            if model_of(rule) not in ran:
                continue
            # Rules that look at the picture itself (occupation's static-mass watch) say so by update_frame.
            frame_update = getattr(rule, "update_frame", None)
            result = (
                frame_update(tracked, image, at) if frame_update is not None else rule.update(tracked, at)
            )
            if result is not None:
                outputs.append(self._emit(result, tracked, image))
        if self.clips is not None:
            # Only frames with person boxes can have their heads pixelated: others stay out of clips.
            if Model.PERSON in ran:
                self.clips.add(at, image, tracked)
            for output in outputs:
                if output.phase is Phase.START:
                    self.clips.start(output.event.id, at)
        return outputs

    def is_open(self, zone_name: str, kind: EventKind) -> bool:
        """Whether the rule for ``kind`` in the zone holds an episode now (started, not yet ended)."""
        return (zone_name, kind) in self._open

    def take_clip_jobs(self) -> list[ClipJob]:
        """Clips whose frames were all collected since the last call, for events already emitted; not yet
        encoded: the node's ClipEncoder encodes them on its background thread."""
        return self.clips.take_jobs() if self.clips is not None else []

    def _emit(self, result: RuleOutput, tracked: list[Detection], image: np.ndarray) -> EventReport:
        key = (result.zone_name, result.kind)
        if result.phase is Phase.START:
            snapshot = render_snapshot(image, tracked, self.camera.zones)
            clean = clean_snapshot(image, tracked)
            event = Event(
                kind=result.kind,
                camera_id=self.camera.id,
                zone_name=result.zone_name,
                started_at=result.started_at,
                confidence=result.confidence,
                detections=result.detections,
                evidence=(evidence_of(snapshot, "snapshot"), evidence_of(clean, "clean")),
                person_count=result.person_count,
                ended_at=result.at if result.instant else None,
            )
            # An instant event is over as it starts: nothing stays open for an UPDATE or END to refer to.
            if not result.instant:
                self._open[key] = event
            logger.info(
                "event %s %s on camera %s zone %s", event.id, event.kind, self.camera.id, result.zone_name
            )
            return EventReport(
                Phase.START, event, (jpeg_blob(snapshot, "snapshot"), jpeg_blob(clean, "clean"))
            )
        start = self._open[key]
        event = dataclasses.replace(
            start,
            confidence=max(start.confidence, result.confidence),
            detections=result.detections,
            person_count=result.person_count,
            ended_at=result.at if result.phase is Phase.END else None,
            evidence=(),
        )
        if result.phase is Phase.END:
            del self._open[key]
        return EventReport(result.phase, event)
