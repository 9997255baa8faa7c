"""Occupation: something (a vehicle or stall) staying put in the zone for ``zone.min_seconds``.

Stillness is measured against where the object was when it first stopped (its anchor), not against the
previous frame, so a slow walker accumulates displacement and never qualifies.

Alongside the detector's classes, a zone with ``static_mass`` settings also watches for anything new
that stays (detect/static_mass.py, given as ``static``): such masses join the event as ``object`` boxes,
so one zone has one occupation episode whichever way it was seen. That half needs the picture: the
analyzer calls ``update_frame``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np

from detect.geometry import foot_distance, iou
from detect.labels import OCCUPYING
from detect.rules.base import Phase, RuleOutput, Timeline, mean_confidence
from detect.zones import in_zone, validate_polygon
from models.records import Detection, EventKind, Zone, ZoneKind

logger = logging.getLogger(__name__)


class MassWatch(Protocol):
    """The class-agnostic half (detect/static_mass.py): masses static for the zone's T in this frame.

    Injected, so the rules stay free of OpenCV (tests/detect/test_zones.py)."""

    def update(self, image: np.ndarray, detections: Sequence[Detection], at: datetime) -> list[Detection]: ...


@dataclass(slots=True)
class _Candidate:
    anchor: Detection
    since: datetime
    last: Detection
    last_seen: datetime


class OccupationRule:
    def __init__(
        self,
        zone: Zone,
        *,
        stationary_max_px: float = 20.0,
        iou_threshold: float = 0.5,
        labels: Collection[str] = OCCUPYING,
        # A parked van hidden behind passers-by for a few frames is still parked.
        lost_seconds: float = 5.0,
        update_interval_seconds: float = 60.0,
        static: MassWatch | None = None,
    ) -> None:
        if zone.kind is not ZoneKind.OCCUPATION:
            raise ValueError(f"zone {zone.name!r} is a {zone.kind} zone, not an occupation zone")
        validate_polygon(zone.polygon_px)
        self.zone = zone
        self._max_px = stationary_max_px
        self._iou = iou_threshold
        self._labels = frozenset(labels)
        self._lost = lost_seconds
        self._update_interval = update_interval_seconds
        self._time = Timeline()
        self._candidates: list[_Candidate] = []
        self._started_at: datetime | None = None
        self._last_emit: datetime | None = None
        self._empty_since: datetime | None = None
        self.static = static

    @property
    def active(self) -> bool:
        return self._started_at is not None

    def _still(self, candidate: _Candidate, detection: Detection) -> bool:
        anchor = candidate.anchor.xyxy
        return (
            iou(anchor, detection.xyxy) >= self._iou or foot_distance(anchor, detection.xyxy) <= self._max_px
        )

    def _match(self, detection: Detection, free: list[_Candidate]) -> tuple[_Candidate | None, bool]:
        """The candidate this detection continues, and whether it is still at its anchor."""
        if detection.track_id is not None:
            for candidate in free:
                if candidate.last.track_id == detection.track_id:
                    return candidate, self._still(candidate, detection)
        # Without a track id (or after an id switch on a parked vehicle) the anchor box identifies it.
        same_place = [c for c in free if c.anchor.label == detection.label and self._still(c, detection)]
        if not same_place:
            return None, False
        return max(same_place, key=lambda c: iou(c.anchor.xyxy, detection.xyxy)), True

    def _track(self, detections: Sequence[Detection], at: datetime) -> None:
        free = list(self._candidates)
        seen: list[_Candidate] = []
        for detection in detections:
            if detection.label not in self._labels or not in_zone(self.zone, detection):
                continue
            candidate, still = self._match(detection, free)
            if candidate is None:
                seen.append(_Candidate(detection, at, detection, at))
                continue
            free.remove(candidate)
            if not still:
                candidate.anchor, candidate.since = detection, at
            candidate.last, candidate.last_seen = detection, at
            seen.append(candidate)
        kept = [c for c in free if (at - c.last_seen).total_seconds() <= self._lost]
        self._candidates = seen + kept

    def update_frame(
        self, detections: Sequence[Detection], image: np.ndarray, at: datetime
    ) -> RuleOutput | None:
        """Feed one analysed frame with its picture: the class rule and the static-mass watch together."""
        masses = self.static.update(image, detections, at) if self.static is not None else []
        return self.update(detections, at, masses=masses)

    def update(
        self, detections: Sequence[Detection], at: datetime, *, masses: Sequence[Detection] = ()
    ) -> RuleOutput | None:
        self._time.advance(at)
        self._track(detections, at)
        staying = [c for c in self._candidates if (at - c.since).total_seconds() >= self.zone.min_seconds]
        classified = tuple(c.last for c in staying)
        # A mass that is a staying vehicle or stall already named by the detector is not reported twice.
        extra = tuple(m for m in masses if not any(iou(m.xyxy, d.xyxy) >= 0.3 for d in classified))
        objects = classified + extra
        if self._started_at is None:
            if not objects:
                return None
            onsets = [c.since for c in staying]
            if extra:  # a mass is reported once static for min_seconds: its onset was that long ago
                onsets.append(at - timedelta(seconds=self.zone.min_seconds))
            self._started_at = min(onsets)
            self._last_emit = at
            self._empty_since = None
            logger.info("occupation started in zone %s: %s", self.zone.name, [d.label for d in objects])
            return self._output(Phase.START, objects, at)
        assert self._last_emit is not None
        if objects:
            self._empty_since = None
        else:
            if self._empty_since is None:
                self._empty_since = at
            if (at - self._empty_since).total_seconds() >= self.zone.cooldown_seconds:
                output = self._output(Phase.END, objects, at)
                self._started_at = self._last_emit = self._empty_since = None
                logger.info("occupation ended in zone %s", self.zone.name)
                return output
        if (at - self._last_emit).total_seconds() >= self._update_interval:
            self._last_emit = at
            return self._output(Phase.UPDATE, objects, at)
        return None

    def _output(self, phase: Phase, objects: tuple[Detection, ...], at: datetime) -> RuleOutput:
        assert self._started_at is not None
        persons = sum(1 for d in objects if d.label == "person")
        return RuleOutput(
            phase=phase,
            kind=EventKind.OCCUPATION,
            zone_name=self.zone.name,
            at=at,
            started_at=self._started_at,
            detections=objects,
            confidence=mean_confidence(objects),
            person_count=persons or None,
        )
