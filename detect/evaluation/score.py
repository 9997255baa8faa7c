"""Figures from judgements and labels: pure arithmetic, so anyone can check it against the JSON records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from detect.evaluation.dataset import EvalItem
from detect.evaluation.judge import Judgement

FIRE_KINDS = frozenset({"fire", "smoke"})
#: The acceptance (issue 14): crowds of at least this many people counted within ± CROWD_COUNT_TOLERANCE
#: of their rough count (issue 4 asked only for ≥ 60 %: an overcount passed however large).
CROWD_MIN_ROUGH = 10
CROWD_COUNT_TOLERANCE = 0.25
SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Detection2x2:
    true_pos: int = 0
    false_pos: int = 0
    false_neg: int = 0
    true_neg: int = 0

    @property
    def precision(self) -> float | None:
        raised = self.true_pos + self.false_pos
        return self.true_pos / raised if raised else None

    @property
    def recall(self) -> float | None:
        present = self.true_pos + self.false_neg
        return self.true_pos / present if present else None

    def as_json(self) -> dict[str, object]:
        return {
            "tp": self.true_pos,
            "fp": self.false_pos,
            "fn": self.false_neg,
            "tn": self.true_neg,
            "precision": self.precision,
            "recall": self.recall,
        }


def confusion(pairs: Sequence[tuple[bool, bool]]) -> Detection2x2:
    """From (expected, raised) pairs."""
    return Detection2x2(
        true_pos=sum(e and r for e, r in pairs),
        false_pos=sum(r and not e for e, r in pairs),
        false_neg=sum(e and not r for e, r in pairs),
        true_neg=sum(not e and not r for e, r in pairs),
    )


@dataclass(frozen=True, slots=True)
class CrowdCount:
    file: str
    rough: int
    counted: int

    @property
    def share(self) -> float:
        return self.counted / self.rough

    @property
    def ok(self) -> bool:
        return abs(self.share - 1.0) <= CROWD_COUNT_TOLERANCE


@dataclass(frozen=True, slots=True)
class Scores:
    files: int
    #: Image level: fire or smoke raised vs any of them expected (the acceptance figure).
    fire_or_smoke: Detection2x2
    #: Per kind, on the same labelled images.
    per_kind: dict[str, Detection2x2]
    crowds: tuple[CrowdCount, ...]
    #: Fire/smoke/fall STARTs on videos not labelled or filed as fire, and those videos' length.
    negative_video_alarms: int
    negative_video_seconds: float
    #: Unlabelled stills (crowd, occupation) where fire or smoke was raised: street scenes, so false alarms.
    unlabelled_still_alarms: tuple[str, ...] = field(default_factory=tuple)

    @property
    def crowd_mean_abs_error(self) -> float | None:
        if not self.crowds:
            return None
        return sum(abs(c.counted - c.rough) / c.rough for c in self.crowds) / len(self.crowds)

    @property
    def false_alarms_per_hour(self) -> float | None:
        if self.negative_video_seconds <= 0:
            return None
        return self.negative_video_alarms * SECONDS_PER_HOUR / self.negative_video_seconds

    def meets_acceptance(self) -> bool:
        p, r = self.fire_or_smoke.precision, self.fire_or_smoke.recall
        return p is not None and r is not None and p >= 0.8 and r >= 0.8 and all(c.ok for c in self.crowds)

    def as_json(self) -> dict[str, object]:
        return {
            "files": self.files,
            "fire_or_smoke": self.fire_or_smoke.as_json(),
            "per_kind": {k: v.as_json() for k, v in sorted(self.per_kind.items())},
            "crowds": [
                {
                    "file": c.file,
                    "rough": c.rough,
                    "counted": c.counted,
                    "share": round(c.share, 3),
                    "ok": c.ok,
                }
                for c in self.crowds
            ],
            "crowd_mean_abs_error": self.crowd_mean_abs_error,
            "negative_video_alarms": self.negative_video_alarms,
            "negative_video_seconds": round(self.negative_video_seconds, 1),
            "false_alarms_per_hour": self.false_alarms_per_hour,
            "unlabelled_still_alarms": list(self.unlabelled_still_alarms),
            "meets_acceptance": self.meets_acceptance(),
        }


def score(items: Sequence[EvalItem], judgements: Sequence[Judgement], durations: Sequence[float]) -> Scores:
    """``durations``: each item's video length in seconds (0 for stills), in the order of ``items``."""
    labelled = [
        (item, set(j.kinds))
        for item, j in zip(items, judgements, strict=True)
        if item.expect_kinds is not None and not item.is_video
    ]
    overall = confusion([(bool(item.expect_kinds), bool(raised & FIRE_KINDS)) for item, raised in labelled])
    per_kind = {
        kind: confusion([(kind in (item.expect_kinds or ()), kind in raised) for item, raised in labelled])
        for kind in sorted(FIRE_KINDS)
    }
    crowds = tuple(
        CrowdCount(item.file, item.rough_persons, j.persons)
        for item, j in zip(items, judgements, strict=True)
        if item.rough_persons is not None and item.rough_persons >= CROWD_MIN_ROUGH
    )
    alarms = 0
    seconds = 0.0
    for item, j, duration in zip(items, judgements, durations, strict=True):
        if item.is_video and not item.expect_kinds and item.category != "fire":
            alarms += sum(j.starts.get(kind, 0) for kind in (*FIRE_KINDS, "fall"))
            seconds += duration
    unlabelled = tuple(
        item.file
        for item, j in zip(items, judgements, strict=True)
        if item.expect_kinds is None
        and not item.is_video
        and item.category != "fire"
        and FIRE_KINDS & set(j.kinds)
    )
    return Scores(len(items), overall, per_kind, crowds, alarms, seconds, unlabelled)
