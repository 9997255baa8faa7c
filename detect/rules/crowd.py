"""Crowd: at least ``zone.min_persons`` people standing in the zone for ``zone.min_seconds``.

With ``zone.min_density_per_m2`` and the zone's ground area (``area_m2``, from the camera's calibration:
detect/ground.py) the people must also be that dense: 40 people on a 2,000 m² square (0.02 per m²) are a
busy square, 40 on 30 m² of pavement (1.3 per m²) a gathering. Without an area the count alone decides.

People in a crowd occlude each other, so a detector misses one or two of them in any single frame. A tracked
person seen in the zone within ``dropout_seconds`` still counts; untracked detections count only in
their frame.

``zone.crowd_windows`` (the centre attaches them from the zone's grid kind and the site's
``policies.crowd_thresholds``) replace the zone's count, density and duration during their local hours: a
market at 7:00 needs more people than the same square at 14:00. The thresholds are read at each frame's
own instant, so a crowd pending when a window opens is judged by the window's from then on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, time

from detect.hours import in_hours, parse_hours
from detect.labels import PERSON_LIKE
from detect.rules.base import Phase, RuleOutput, Timeline, mean_confidence
from detect.zones import detections_in_zone, validate_polygon
from models.records import CrowdWindow, Detection, EventKind, Zone, ZoneKind

logger = logging.getLogger(__name__)


class Thresholds:
    """What makes a crowd at one instant: the zone's values, or those of its window holding the local time."""

    def __init__(self, zone: Zone) -> None:
        self._zone = zone
        self._windows: list[tuple[CrowdWindow, tuple[tuple[time, time], ...]]] = []
        for window in zone.crowd_windows:
            if window.min_persons is not None and window.min_persons < 1:
                raise ValueError(f"zone {zone.name!r}: a crowd window's min_persons must be at least 1")
            self._windows.append((window, parse_hours([window.hours])))

    @property
    def uses_density(self) -> bool:
        return self._zone.min_density_per_m2 is not None or any(
            w.min_density_per_m2 is not None for w, _ in self._windows
        )

    def at(self, instant: datetime) -> tuple[int, float | None, float]:
        """(min persons, min density per m² or None, min seconds) in force at ``instant``."""
        zone = self._zone
        for window, spans in self._windows:
            if in_hours(instant, spans, window.timezone):
                return (
                    window.min_persons if window.min_persons is not None else zone.min_persons,
                    window.min_density_per_m2
                    if window.min_density_per_m2 is not None
                    else zone.min_density_per_m2,
                    window.min_seconds if window.min_seconds is not None else zone.min_seconds,
                )
        return zone.min_persons, zone.min_density_per_m2, zone.min_seconds


class CrowdRule:
    def __init__(
        self,
        zone: Zone,
        *,
        update_interval_seconds: float = 30.0,
        # A person occluded for a frame or two must not restart the inertia timer: at 2 fps one missed
        # frame is 0.5 s, and the demo crowd dips below five for single frames.
        dropout_seconds: float = 1.0,
        area_m2: float | None = None,
    ) -> None:
        if zone.kind is not ZoneKind.CROWD:
            raise ValueError(f"zone {zone.name!r} is a {zone.kind} zone, not a crowd zone")
        validate_polygon(zone.polygon_px)
        if zone.min_persons < 1:
            raise ValueError(f"zone {zone.name!r}: min_persons must be at least 1")
        if area_m2 is not None and area_m2 <= 0:
            raise ValueError(f"zone {zone.name!r}: area_m2 must be positive, got {area_m2}")
        self.zone = zone
        self.thresholds = Thresholds(zone)
        #: The zone's ground area; None when the camera has no calibration (density then not checked).
        self.area_m2 = area_m2
        if self.thresholds.uses_density and area_m2 is None:
            logger.warning(
                "zone %s: min_density_per_m2 needs the camera's calibration; the count alone decides",
                zone.name,
            )
        self._update_interval = update_interval_seconds
        self._dropout = dropout_seconds
        self._time = Timeline()
        self._onset: datetime | None = None  # condition first held (pending or active)
        self._last_above: datetime | None = None
        self._active = False
        self._below_since: datetime | None = None
        self._last_emit: datetime | None = None
        self._peak = 0
        #: Persons counted at the last update (those in the zone, plus tracked ones briefly missed): the
        #: count the rule reports, which `gridwatch eval` scores.
        self.counted = 0
        self._recent: dict[int, tuple[Detection, datetime]] = {}

    @property
    def active(self) -> bool:
        return self._active

    def update(self, detections: Sequence[Detection], at: datetime) -> RuleOutput | None:
        self._time.advance(at)
        persons = self._persons(detections, at)
        self.counted = len(persons)
        min_persons, min_density, min_seconds = self.thresholds.at(at)
        above = len(persons) >= min_persons and self._dense_enough(len(persons), min_density)
        if self._active:
            return self._while_active(persons, above, at)
        if above:
            if self._onset is None:
                self._onset = at
            self._last_above = at
            if (at - self._onset).total_seconds() >= min_seconds:
                return self._start(persons, at)
        elif self._last_above is not None and (at - self._last_above).total_seconds() > self._dropout:
            self._onset = self._last_above = None
        return None

    def _dense_enough(self, count: int, wanted: float | None) -> bool:
        return wanted is None or self.area_m2 is None or count / self.area_m2 >= wanted

    def _persons(self, detections: Sequence[Detection], at: datetime) -> list[Detection]:
        """Persons in the zone now, plus tracked ones briefly missed (at their last known box)."""
        current = detections_in_zone(self.zone, detections, PERSON_LIKE)
        for person in current:
            if person.track_id is not None:
                self._recent[person.track_id] = (person, at)
        seen_now = {p.track_id for p in current}
        held: list[Detection] = []
        for track_id, (person, seen) in list(self._recent.items()):
            if (at - seen).total_seconds() > self._dropout:
                del self._recent[track_id]
            elif track_id not in seen_now:
                held.append(person)
        return current + held

    def _start(self, persons: list[Detection], at: datetime) -> RuleOutput:
        assert self._onset is not None
        self._active = True
        self._peak = len(persons)
        self._last_emit = at
        self._below_since = None
        logger.info("crowd started in zone %s: %s persons", self.zone.name, len(persons))
        return self._output(Phase.START, persons, at, len(persons))

    def _while_active(self, persons: list[Detection], above: bool, at: datetime) -> RuleOutput | None:
        assert self._last_emit is not None
        self._peak = max(self._peak, len(persons))
        if above:
            self._below_since = None
        else:
            if self._below_since is None:
                self._below_since = at
            if (at - self._below_since).total_seconds() >= self.zone.cooldown_seconds:
                output = self._output(Phase.END, persons, at, self._peak)
                self._active = False
                self._onset = self._last_above = self._below_since = self._last_emit = None
                logger.info("crowd ended in zone %s (peak %s)", self.zone.name, self._peak)
                return output
        if (at - self._last_emit).total_seconds() >= self._update_interval:
            self._last_emit = at
            return self._output(Phase.UPDATE, persons, at, self._peak)
        return None

    def _output(self, phase: Phase, persons: list[Detection], at: datetime, count: int) -> RuleOutput:
        assert self._onset is not None
        return RuleOutput(
            phase=phase,
            kind=EventKind.CROWD,
            zone_name=self.zone.name,
            at=at,
            started_at=self._onset,
            detections=tuple(persons),
            confidence=mean_confidence(persons),
            person_count=count,
        )
