"""What every rule emits, and the time bookkeeping they share."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from models.records import Detection, EventKind, EventPhase, Zone

#: The rules' name for an event's phase; the centre reads the same enum.
Phase = EventPhase


@dataclass(frozen=True, slots=True)
class RuleOutput:
    phase: Phase
    kind: EventKind
    zone_name: str
    #: The instant of the observation that caused this output.
    at: datetime
    #: When the condition first held (START: the onset, before the inertia delay elapsed).
    started_at: datetime
    detections: tuple[Detection, ...]
    confidence: float
    person_count: int | None = None
    #: A START that is also its own END (a line crossing has no duration): the analyzer records the event
    #: as already ended and keeps nothing open, so the rule sends no UPDATE or END for it.
    instant: bool = False


class Model(enum.StrEnum):
    """Which detector's boxes a rule reads; a rule votes only on frames where its detector ran."""

    #: The person model (people, vehicles, stalls, falls): runs on every analysed frame.
    PERSON = "person"
    #: The fire/smoke model: runs on a camera's frames at a lower rate, and only where a fire zone needs it.
    FIRE = "fire"


class Rule(Protocol):
    zone: Zone

    def update(self, detections: Sequence[Detection], at: datetime) -> RuleOutput | None:
        """Feed one analysed frame; returns what changed, if anything."""
        ...


def model_of(rule: Rule) -> Model:
    """The detector a rule needs: ``rule.model`` where it declares one, else the person model."""
    return Model(getattr(rule, "model", Model.PERSON))


class Timeline:
    """Refuses naive or backwards timestamps, which would silently corrupt dwell and cooldown arithmetic."""

    def __init__(self) -> None:
        self.last: datetime | None = None

    def advance(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("rules need timezone-aware timestamps")
        if self.last is not None and at < self.last:
            raise ValueError(f"time went backwards: {at.isoformat()} after {self.last.isoformat()}")
        self.last = at


def mean_confidence(detections: Sequence[Detection]) -> float:
    return sum(d.confidence for d in detections) / len(detections) if detections else 0.0
