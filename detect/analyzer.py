"""One camera's analysis: tracking, a rule per zone, and Events with their JPEG evidence."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from detect.evidence import clean_snapshot, render_snapshot
from detect.rules import CrowdRule, FallRule, FireRule, OccupationRule, Phase, Rule, RuleOutput
from detect.tracking import ByteTracker, Tracker
from models.records import Camera, Detection, Event, EventKind, Evidence, Zone, ZoneKind

logger = logging.getLogger(__name__)

JPEG = "image/jpeg"


@dataclass(frozen=True, slots=True)
class AnalyzerOutput:
    """An event and, for a START, its evidence bytes; ``event.evidence`` describes the same bytes.

    UPDATE and END reuse the START event's id (same episode), with ``person_count`` the peak so far and, for
    END, ``ended_at`` set; they carry no images.
    """

    phase: Phase
    event: Event
    snapshot_jpeg: bytes | None = None
    clean_jpeg: bytes | None = None


def rules_for(zone: Zone) -> list[Rule]:
    """The default rules of a zone kind.

    Zones where people walk also watch for falls; the fall rule stays idle unless the camera's person
    detector has a fall class, so it costs nothing elsewhere.
    """
    if zone.kind is ZoneKind.CROWD:
        return [CrowdRule(zone), FallRule(zone)]
    if zone.kind is ZoneKind.OCCUPATION:
        return [OccupationRule(zone), FallRule(zone)]
    return [FireRule(zone, kind=EventKind.FIRE), FireRule(zone, kind=EventKind.SMOKE)]


def evidence_of(jpeg: bytes) -> Evidence:
    """Content-addressed: the id is the sha256, so storing the same snapshot twice is harmless."""
    digest = hashlib.sha256(jpeg).hexdigest()
    return Evidence(id=digest, media_type=JPEG, sha256=digest, size=len(jpeg))


class CameraAnalyzer:
    """Not thread-safe: one per camera, fed that camera's analysed frames in time order."""

    def __init__(
        self,
        camera: Camera,
        *,
        tracker: Tracker | None = None,
        rules: Callable[[Zone], Sequence[Rule]] = rules_for,
    ) -> None:
        self.camera = camera
        self._tracker: Tracker = (
            tracker if tracker is not None else ByteTracker(frame_rate=camera.analysis_fps)
        )
        self._rules: list[Rule] = [rule for zone in camera.zones for rule in rules(zone)]
        self._open: dict[tuple[str, EventKind], Event] = {}

    def analyze(self, detections: list[Detection], image: np.ndarray, at: datetime) -> list[AnalyzerOutput]:
        tracked = self._tracker.update(detections)
        outputs: list[AnalyzerOutput] = []
        for rule in self._rules:
            result = rule.update(tracked, at)
            if result is not None:
                outputs.append(self._emit(result, tracked, image))
        return outputs

    def _emit(self, result: RuleOutput, tracked: list[Detection], image: np.ndarray) -> AnalyzerOutput:
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
                evidence=(evidence_of(snapshot), evidence_of(clean)),
                person_count=result.person_count,
            )
            self._open[key] = event
            logger.info(
                "event %s %s on camera %s zone %s", event.id, event.kind, self.camera.id, result.zone_name
            )
            return AnalyzerOutput(Phase.START, event, snapshot, clean)
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
        return AnalyzerOutput(result.phase, event)
