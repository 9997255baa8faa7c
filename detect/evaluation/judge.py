"""Run the zone rules over observed detections, as a camera watching the whole picture would.

A still image is judged as a static scene watched for a few seconds at the analysis rate, so the same
rules (dwell, k-of-n voting) decide for images and videos alike. Two differences follow from a still
having no time in it: the fire rules' temporal stage (a region must flicker or spread from look to look,
detect/rules/fire_temporal.py) is off for stills, whose boxes cannot change, and on for videos; and on
videos the fire rules see one analysed frame every ``FIRE_EVERY_SECONDS``, as in the service.

As in the service (detect/analysis/analyzer.py), persons and other objects go through the tracker before
the rules; fire and smoke boxes do not. A file's person count is what the crowd rule counts: the people in
the frame plus tracked ones missed for up to a second (occluded in a crowd), its most in one analysed frame,
which is the peak an incident reports.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from detect.evaluation.observe import ANALYSIS_FPS, Observation
from detect.labels import Meaning
from detect.rules import CrowdRule, FallRule, FireRule, Model, Phase, Rule, model_of
from detect.rules.fire import FIRE_EVERY_SECONDS, FIRE_MIN_CONFIDENCE, SMOKE_MIN_CONFIDENCE
from detect.tracking import ByteTracker
from models.records import Detection, EventKind, Zone, ZoneKind

#: The analyzer's rule too: fire and smoke boxes stay out of the tracker.
_UNTRACKED = frozenset({Meaning.FIRE, Meaning.SMOKE})
#: Any fixed instant works: rules only look at differences.
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Thresholds:
    fire_min_confidence: float = FIRE_MIN_CONFIDENCE
    smoke_min_confidence: float = SMOKE_MIN_CONFIDENCE
    #: The acceptance's notion of a crowd: at least ten people.
    crowd_min_persons: int = 10
    crowd_min_seconds: float = 5.0
    #: How long a still is "watched": past the crowd dwell, so a still can raise every kind.
    still_seconds: float = 6.0


@dataclass(frozen=True, slots=True)
class Judgement:
    file: str
    #: Event kinds that started at least once, sorted.
    kinds: tuple[str, ...]
    #: Most persons the crowd rule counted in one analysed frame (tracked ones briefly missed included).
    persons: int
    #: START count per kind: false alarms on negative video are counted in events, not files.
    starts: dict[str, int]


def whole_frame(name: str, kind: ZoneKind, size: tuple[int, int], **settings: float) -> Zone:
    width, height = size
    # One pixel of margin: boxes touching the border put their foot exactly on the polygon's edge.
    polygon = ((-1.0, -1.0), (width + 1.0, -1.0), (width + 1.0, height + 1.0), (-1.0, height + 1.0))
    return Zone(name, kind, polygon, **settings)  # type: ignore[arg-type]


def _rules(size: tuple[int, int], thresholds: Thresholds, *, still: bool) -> list[Rule]:
    crowd = whole_frame(
        "frame",
        ZoneKind.CROWD,
        size,
        min_persons=thresholds.crowd_min_persons,
        min_seconds=thresholds.crowd_min_seconds,
    )
    fire = whole_frame("frame", ZoneKind.FIRE, size)
    change = 0.0 if still else None
    return [
        CrowdRule(crowd),
        FallRule(crowd),
        *(
            FireRule(fire, kind=kind, min_confidence=confidence, min_change=change, frame_size=size)
            for kind, confidence in (
                (EventKind.FIRE, thresholds.fire_min_confidence),
                (EventKind.SMOKE, thresholds.smoke_min_confidence),
            )
        ),
    ]


def _timeline(observation: Observation, thresholds: Thresholds) -> list[tuple[float, tuple[Detection, ...]]]:
    if observation.duration_s > 0:
        return list(observation.frames)
    [(_, detections)] = observation.frames
    count = int(thresholds.still_seconds * ANALYSIS_FPS) + 1
    return [(i / ANALYSIS_FPS, detections) for i in range(count)]


def judge(observation: Observation, thresholds: Thresholds = Thresholds()) -> Judgement:
    still = observation.duration_s <= 0
    rules = _rules(observation.frame_size, thresholds, still=still)
    fire_stride = 1 if still else max(1, round(FIRE_EVERY_SECONDS * ANALYSIS_FPS))
    [crowd] = [rule for rule in rules if isinstance(rule, CrowdRule)]
    tracker = ByteTracker(frame_rate=ANALYSIS_FPS)
    starts: Counter[str] = Counter()
    persons = 0
    for index, (seconds, found) in enumerate(_timeline(observation, thresholds)):
        detections = [
            *tracker.update([d for d in found if d.label not in _UNTRACKED]),
            *(d for d in found if d.label in _UNTRACKED),
        ]
        at = EPOCH + timedelta(seconds=seconds)
        for rule in rules:
            if model_of(rule) is Model.FIRE and index % fire_stride:
                continue
            output = rule.update(detections, at)
            if output is not None and output.phase is Phase.START:
                starts[str(output.kind)] += 1
        persons = max(persons, crowd.counted)
    return Judgement(observation.item.file, tuple(sorted(starts)), persons, dict(starts))
