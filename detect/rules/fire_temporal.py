"""The temporal stage after the fire model's per-frame votes: a region must stay and change like a fire.

The per-frame model's false alarms on street video are things that do not burn: a red sign, a tail light,
an orange awning, grey haze over a whole greyscale picture. They are called fire or smoke at the same place
on check after check, and their box hardly changes size. A real fire's region flickers (flames change shape
from one look to the next) or grows; a plume spreads and drifts. So before an episode may start, the boxes
that voted must

- **persist**: a region in at least ``k`` of the last ``n`` checks (the voting rule's own window), each
  overlapping the latest one, so hits scattered over the picture do not add up to one fire; and
- **change**: from one check to the next, the region must change shape or place: the median of
  ``1 - IoU`` between consecutive regions must reach ``min_change``. A box on a static object jitters by a
  pixel or two, so a side that moved by no more than ``jitter_px`` counts as not moved (``JITTER`` of the
  picture's longer side: 1.9 px on the demo street). Without that, a 20 px box on the demo street's static
  false "fire" changed by up to 0.38 whenever one look's box came out a few pixels taller; flames flicker
  and plumes drift by far more.

Fire and smoke get their own ``min_change`` (``FIRE_MIN_CHANGE``, ``SMOKE_MIN_CHANGE``), chosen on the
tuning videos against the per-frame model's jitter on static street scenes (docs/detection.md). A still
picture can never pass this stage; ``gridwatch eval`` judges stills on the votes alone and says so.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import deque
from collections.abc import Sequence

from detect.geometry import iou
from models.records import XYXY, Detection

#: Median ``1 - IoU`` between consecutive looks (2 s apart) a flame region must show. Chosen on tuning
#: video (docs/detection.md): the petrol-station fire changes by 0.41-0.75 per look (10th to 90th
#: percentile), the demo street's static false "fire" (a 20 px box at low confidence) by at most 0.24.
FIRE_MIN_CHANGE = 0.35
#: Smoke drifts more slowly: the petrol station's plume changes by 0.25-0.74 over most windows, the grey
#: top-down plaza clip the model calls smoke by 0.13 or less in nine windows of ten (0.36 at most, which
#: starts one false smoke a day: docs/detection.md).
SMOKE_MIN_CHANGE = 0.18
#: How far a side of a box may move between looks and still count as not moved, as a share of the picture's
#: longer side: the model sees a static thing a pixel or two off each time (2 px on the 768 px demo street,
#: 5 px on a 1920 px picture, which the model sees at the same input size).
JITTER = 0.0025


def region_of(hits: Sequence[Detection]) -> XYXY | None:
    """The region of one check: the most confident hit and every hit overlapping it (a fire's flames come
    out as several boxes); hits elsewhere in the picture are another region, not part of this one."""
    if not hits:
        return None
    best = max(hits, key=lambda d: d.confidence).xyxy
    return union([d.xyxy for d in hits if overlaps(d.xyxy, best)])


def overlaps(a: XYXY, b: XYXY) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def union(boxes: Sequence[XYXY]) -> XYXY:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def change_of(regions: Sequence[XYXY], jitter_px: float = 0.0) -> float:
    """How much a persisting region changed from check to check: the median of ``1 - IoU`` of neighbours,
    each side's move shortened by ``jitter_px``. The median, so that one odd box (a passer-by's orange coat
    next to a sign) does not make a change."""
    if len(regions) < 2:
        return 0.0
    return statistics.median(1.0 - iou(a, steadied(a, b, jitter_px)) for a, b in itertools.pairwise(regions))


def steadied(a: XYXY, b: XYXY, jitter_px: float) -> XYXY:
    """``b`` with each side moved ``jitter_px`` back towards ``a``'s, and not past it."""

    def side(was: float, now: float) -> float:
        step = now - was
        return was if abs(step) <= jitter_px else now - math.copysign(jitter_px, step)

    return (side(a[0], b[0]), side(a[1], b[1]), side(a[2], b[2]), side(a[3], b[3]))


class TemporalStage:
    """Remembers the region of each of the last ``n`` checks and says whether they look like a fire."""

    def __init__(self, *, k: int, n: int, min_change: float, jitter_px: float = 0.0) -> None:
        if min_change < 0:
            raise ValueError(f"min_change must be >= 0, got {min_change}")
        if jitter_px < 0:
            raise ValueError(f"jitter_px must be >= 0, got {jitter_px}")
        self._k = k
        self._min_change = min_change
        self._jitter_px = jitter_px
        self._regions: deque[XYXY | None] = deque(maxlen=n)
        #: The last change measured over a persisting region, for logs and tests.
        self.last_change = 0.0

    def observe(self, hits: Sequence[Detection]) -> None:
        self._regions.append(region_of(hits))

    def corroborated(self) -> bool:
        latest = self._regions[-1] if self._regions else None
        if latest is None:
            return False
        same_place = [r for r in self._regions if r is not None and overlaps(r, latest)]
        if len(same_place) < self._k:
            return False
        self.last_change = change_of(same_place, self._jitter_px)
        return self.last_change >= self._min_change
