"""Builders for synthetic detections and timelines used by the rule tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from detect.rules import Rule, RuleOutput
from models.records import Detection, Zone, ZoneKind

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
SQUARE: tuple[tuple[float, float], ...] = ((100, 100), (500, 100), (500, 400), (100, 400))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def zone(kind: ZoneKind, **kwargs: float) -> Zone:
    return Zone(name=f"{kind}-zone", kind=kind, polygon_px=SQUARE, **kwargs)  # type: ignore[arg-type]


def box(
    x: float,
    y: float,
    w: float = 40,
    h: float = 100,
    label: str = "person",
    conf: float = 0.8,
    track: int | None = None,
) -> Detection:
    """A box whose foot (bottom-centre) is at (x, y)."""
    return Detection((x - w / 2, y - h, x + w / 2, y), conf, label, 0, track)


def persons_inside(n: int) -> list[Detection]:
    return [box(150 + 40 * i, 300, track=i + 1) for i in range(n)]


def run(
    rule: Rule, frames: Sequence[tuple[float, Sequence[Detection]]]
) -> list[tuple[float, str, RuleOutput]]:
    """(seconds, phase, output) for each frame that produced an output."""
    results = []
    for seconds, detections in frames:
        output = rule.update(detections, at(seconds))
        if output is not None:
            results.append((seconds, str(output.phase), output))
    return results
