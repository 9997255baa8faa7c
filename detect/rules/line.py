"""Line crossing: a tracked object's foot passing over a segment in a forbidden direction (fire-lane entry).

The zone's ``polygon_px`` is the segment A→B and ``zone.direction`` says which side change counts; sides are
as seen on the picture by someone on A facing B (``LineDirection``, ``detect.zones.side_distance``).

Each tracked object keeps the last foot point that stood firmly on one side. A crossing is a move from one
firm side to the other whose straight path passes between A and B. Two guards keep a box that jitters on
the line from raising a stream of events:

- a point counts as on a side only when it is at least ``margin_px`` off the line; inside that band the
  object keeps the side it had, so a foot that wobbles a few pixels around the line never changes side;
- after a crossing that raised an event, the same track raises none for ``zone.cooldown_seconds``, so a
  box whose foot swings wider than the band (a car stopped across the line) gives one event, not one per
  swing.

Crossings are instantaneous, so each is a START with ``instant=True`` (the analyzer records it already
ended) and no UPDATE or END follows. The rule returns one output per frame: objects that cross in the same
frame share one event that lists them all. Untracked detections cannot cross anything (there is no
previous point to compare with) and are ignored; a track unseen for ``lost_seconds`` is forgotten.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from detect.labels import PERSON_LIKE, Meaning
from detect.rules.base import Phase, RuleOutput, Timeline, mean_confidence
from detect.zones import path_meets_segment, side_distance
from models.records import Detection, EventKind, LineDirection, Pixel, Zone, ZoneKind
from models.shapes import validate_segment

logger = logging.getLogger(__name__)

LEFT, RIGHT = -1, 1


@dataclass(slots=True)
class _Track:
    #: LEFT, RIGHT, or 0 while the object has only been seen within the band around the line.
    side: int
    #: The last foot point firmly on ``side``: where a crossing path starts.
    point: Pixel
    last_seen: datetime
    crossed_at: datetime | None = None


class LineCrossingRule:
    def __init__(
        self,
        zone: Zone,
        *,
        # Feet of boxes from the same detector jitter by a few pixels frame to frame on a 768×576 stream.
        margin_px: float = 8.0,
        # Longer than ByteTracker's 5 s buffer, so an id the tracker may still revive is never forgotten here.
        lost_seconds: float = 10.0,
    ) -> None:
        if zone.kind is not ZoneKind.LINE:
            raise ValueError(f"zone {zone.name!r} is a {zone.kind} zone, not a line zone")
        validate_segment(zone.polygon_px)
        if not margin_px > 0:
            raise ValueError(f"margin_px must be positive, got {margin_px}")
        if not zone.labels:
            raise ValueError(f"line zone {zone.name!r} watches no labels")
        self.zone = zone
        self._margin = margin_px
        self._lost = lost_seconds
        labels = frozenset(zone.labels)
        # The fall model calls a person lying down "fall"; they still count as the person they are.
        self._labels = labels | PERSON_LIKE if Meaning.PERSON in labels else labels
        self._time = Timeline()
        self._tracks: dict[int, _Track] = {}

    def _counts(self, before: int, after: int) -> bool:
        if self.zone.direction is LineDirection.BOTH:
            return True
        wanted = (LEFT, RIGHT) if self.zone.direction is LineDirection.LEFT_TO_RIGHT else (RIGHT, LEFT)
        return (before, after) == wanted

    def _rearmed(self, track: _Track, at: datetime) -> bool:
        if track.crossed_at is None:
            return True
        return (at - track.crossed_at).total_seconds() >= self.zone.cooldown_seconds

    def _side(self, point: Pixel) -> int:
        distance = side_distance(self.zone.polygon_px, point)
        if abs(distance) < self._margin:
            return 0
        return RIGHT if distance > 0 else LEFT

    def _crossed(self, detection: Detection, track_id: int, at: datetime) -> bool:
        """Follow one tracked object; whether this observation completes a crossing that counts."""
        point = detection.foot
        side = self._side(point)
        track = self._tracks.get(track_id)
        if track is None:
            self._tracks[track_id] = _Track(side, point, at)
            return False
        track.last_seen = at
        if side == 0:
            return False
        before, track.side, start, track.point = track.side, side, track.point, point
        if before in (0, side) or not path_meets_segment(self.zone.polygon_px, start, point):
            return False
        if not (self._counts(before, side) and self._rearmed(track, at)):
            return False
        track.crossed_at = at
        return True

    def update(self, detections: Sequence[Detection], at: datetime) -> RuleOutput | None:
        self._time.advance(at)
        crossers: list[Detection] = []
        for detection in detections:
            if detection.track_id is None or detection.label not in self._labels:
                continue
            if self._crossed(detection, detection.track_id, at):
                crossers.append(detection)
        crossing = tuple(crossers)
        self._tracks = {
            track_id: track
            for track_id, track in self._tracks.items()
            if (at - track.last_seen).total_seconds() <= self._lost
        }
        if not crossing:
            return None
        logger.info(
            "line %s crossed by %s",
            self.zone.name,
            [f"{d.label} #{d.track_id}" for d in crossing],
        )
        persons = sum(1 for d in crossing if d.label in PERSON_LIKE)
        return RuleOutput(
            phase=Phase.START,
            kind=EventKind.LINE_CROSSING,
            zone_name=self.zone.name,
            at=at,
            started_at=at,
            detections=crossing,
            confidence=mean_confidence(crossing),
            person_count=persons or None,
            instant=True,
        )
