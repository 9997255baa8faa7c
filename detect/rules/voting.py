"""k-of-n voting: an event starts once k of the last n analysed frames showed a qualifying box in the zone.

Voting replaces the zone's continuous-dwell ``min_seconds`` for things detectors see only intermittently:
flames flicker, a fallen person is half hidden, and single-frame hits are what most false alarms look like.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime

from detect.geometry import area
from detect.rules.base import Phase, RuleOutput, Timeline
from detect.zones import validate_polygon
from models.records import Detection, EventKind, Zone

logger = logging.getLogger(__name__)


class VotingRule:
    def __init__(
        self,
        zone: Zone,
        *,
        kind: EventKind,
        label: str,
        where: Callable[[Zone, Detection], bool],
        k: int,
        n: int,
        min_area_px: float,
        min_confidence: float,
        update_interval_seconds: float,
    ) -> None:
        if not 1 <= k <= n:
            raise ValueError(f"need 1 <= k <= n, got k={k} n={n}")
        if not 0.0 <= min_confidence < 1.0:
            raise ValueError(f"min_confidence must be in [0, 1), got {min_confidence}")
        validate_polygon(zone.polygon_px)
        self.zone = zone
        self.kind = kind
        self._label = label
        self._where = where
        self._k = k
        self._min_area = min_area_px
        self._min_confidence = min_confidence
        self._update_interval = update_interval_seconds
        self._votes: deque[bool] = deque(maxlen=n)
        self._time = Timeline()
        self._first_vote: datetime | None = None
        self._started_at: datetime | None = None
        self._last_emit: datetime | None = None
        self._quiet_since: datetime | None = None
        self._best = 0.0

    @property
    def active(self) -> bool:
        return self._started_at is not None

    def qualifies(self, detection: Detection) -> bool:
        return (
            detection.label == self._label
            and detection.confidence >= self._min_confidence
            and area(detection.xyxy) >= self._min_area
            and self._where(self.zone, detection)
        )

    def observe(self, hits: Sequence[Detection]) -> None:
        """Sees each frame's qualifying boxes; a subclass with a temporal stage remembers them."""

    def corroborated(self) -> bool:
        """Whether an episode whose votes reached k may start; a temporal stage can veto it."""
        return True

    def update(self, detections: Sequence[Detection], at: datetime) -> RuleOutput | None:
        self._time.advance(at)
        hits = [d for d in detections if self.qualifies(d)]
        self._votes.append(bool(hits))
        self.observe(hits)
        if hits and self._first_vote is None:
            self._first_vote = at
        elif not any(self._votes):
            self._first_vote = None
        confirmed = sum(self._votes) >= self._k
        if self._started_at is None:
            if not confirmed or not self.corroborated():
                return None
            assert self._first_vote is not None
            self._started_at, self._last_emit, self._quiet_since = self._first_vote, at, None
            self._best = max(d.confidence for d in hits) if hits else 0.0
            logger.warning("%s detected in zone %s", self._label, self.zone.name)
            return self._output(Phase.START, hits, at)
        assert self._last_emit is not None
        if hits:
            self._best = max(self._best, *(d.confidence for d in hits))
        if confirmed:
            self._quiet_since = None
        else:
            if self._quiet_since is None:
                self._quiet_since = at
            if (at - self._quiet_since).total_seconds() >= self.zone.cooldown_seconds:
                output = self._output(Phase.END, hits, at)
                self._started_at = self._last_emit = self._quiet_since = None
                self._best = 0.0
                return output
        if (at - self._last_emit).total_seconds() >= self._update_interval:
            self._last_emit = at
            return self._output(Phase.UPDATE, hits, at)
        return None

    def _output(self, phase: Phase, hits: list[Detection], at: datetime) -> RuleOutput:
        assert self._started_at is not None
        persons = len(hits) if self.kind is EventKind.FALL else None
        return RuleOutput(
            phase=phase,
            kind=self.kind,
            zone_name=self.zone.name,
            at=at,
            started_at=self._started_at,
            detections=tuple(hits),
            confidence=self._best,
            person_count=persons or None,
        )
