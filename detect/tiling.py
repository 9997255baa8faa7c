"""Dense crowds: a second, tiled pass at full resolution where the first pass finds many people.

A detector run at one input size (640 on the long side) sees the people at the back of a packed street or
hall as a few pixels of heads, and misses many of them. Where the first pass already finds at least
``min_persons`` person-like boxes, the picture is cut into ``grid`` × ``grid`` overlapping tiles, each run
through the same detector (so each tile is seen at up to ``grid`` times the resolution), and the tiles'
person boxes are merged with the first pass's: a box that overlaps a more confident one (IoU ≥ ``iou``, or
lying mostly inside it, as a person cut at a tile's edge does) is the same person. Other labels keep the
first pass's boxes. Frames with fewer people cost nothing extra.

A tile's box that reaches one of the tile's inner edges (within ``edge_margin`` of the tile's side) is
dropped before merging: it is a person cut by the tile, and a cut person comes out as two boxes, a head
and shoulders in one tile and legs in the other, neither mostly inside the other nor the first pass's box.
A person narrower than the tiles' overlap is whole in a neighbouring tile; a taller one is the first
pass's to find (large people are what one pass at 640 sees well). Without this, close-up commuters on
the crosswalk clip came out as halves (22 boxes for about 13 people) and the dense crowd at 70 for 60.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from detect.geometry import area, iou
from detect.labels import PERSON_LIKE
from detect.port import Detector
from models.records import Detection

#: Share of a box inside a more confident one at which both are one person (a tile-edge cut).
INSIDE = 0.8
#: A tile's box this close to an inner edge of its tile (share of the tile's width or height) is cut.
#: Chosen on the tuning half (bench/crowd_tiling_sweep.py): 0.01 lets legs boxes 3 px below a seam
#: through; 0.02 to 0.05 give the same counts on every tuning scene.
EDGE_MARGIN = 0.03


def tiles(width: int, height: int, grid: int, overlap: float) -> list[tuple[int, int, int, int]]:
    """``grid`` × ``grid`` windows covering the picture, neighbours overlapping by ``overlap`` of a tile."""
    tw = int(np.ceil(width / (grid - (grid - 1) * overlap)))
    th = int(np.ceil(height / (grid - (grid - 1) * overlap)))
    xs = [round(i * (width - tw) / (grid - 1)) for i in range(grid)]
    ys = [round(j * (height - th) / (grid - 1)) for j in range(grid)]
    return [(x, y, x + tw, y + th) for y in ys for x in xs]


def _inside(small: tuple[float, ...], big: tuple[float, ...]) -> float:
    w = min(small[2], big[2]) - max(small[0], big[0])
    h = min(small[3], big[3]) - max(small[1], big[1])
    own = area(small)  # type: ignore[arg-type]
    return max(0.0, w) * max(0.0, h) / own if own > 0 else 0.0


def cut_by_tile(
    box: tuple[float, float, float, float],
    window: tuple[int, int, int, int],
    size: tuple[int, int],
    margin: float,
) -> bool:
    """Whether ``box`` (picture pixels) reaches an edge of its tile ``window`` that is inside the picture."""
    x0, y0, x1, y1 = window
    width, height = size
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    a, b, c, d = box
    return (
        (x0 > 0 and a <= x0 + mx)
        or (y0 > 0 and b <= y0 + my)
        or (x1 < width and c >= x1 - mx)
        or (y1 < height and d >= y1 - my)
    )


def merge(boxes: Sequence[Detection], *, iou_same: float) -> list[Detection]:
    """Greedy, most confident first: a box is dropped when it is the same person as one already kept."""
    kept: list[Detection] = []
    for box in sorted(boxes, key=lambda d: d.confidence, reverse=True):
        if not any(
            iou(box.xyxy, k.xyxy) >= iou_same
            or _inside(box.xyxy, k.xyxy) >= INSIDE
            or _inside(k.xyxy, box.xyxy) >= INSIDE
            for k in kept
        ):
            kept.append(box)
    return kept


class TiledDetector:
    """Wraps a detector: same port, a second tiled pass on crowded frames."""

    def __init__(
        self,
        inner: Detector,
        *,
        min_persons: int = 20,
        grid: int = 2,
        overlap: float = 0.2,
        iou_same: float = 0.5,
        edge_margin: float = EDGE_MARGIN,
    ) -> None:
        if min_persons < 1 or grid < 2 or not 0.0 <= overlap < 1.0 or not 0.0 <= edge_margin < 0.5:
            raise ValueError("need min_persons >= 1, grid >= 2, 0 <= overlap < 1 and 0 <= edge_margin < 0.5")
        self._inner = inner
        self.name: str = inner.name
        self.labels: Mapping[int, str] = inner.labels
        self.min_persons = min_persons
        self._grid = grid
        self._overlap = overlap
        self._iou = iou_same
        #: 0 keeps every tile box (the behaviour before the cut filter, for comparison in bench/).
        self._edge = edge_margin
        #: Frames that got the tiled pass, for logs and tests.
        self.tiled_frames = 0

    @property
    def meanings(self) -> Mapping[int, str] | None:
        """What the wrapped model sees: the blind-spot report (detect/labels.py) looks through the wrapper."""
        found: Mapping[int, str] | None = getattr(self._inner, "meanings", None)
        return found

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        first = self._inner.detect(images)
        return [self._refine(image, found) for image, found in zip(images, first, strict=True)]

    def _refine(self, image: np.ndarray, found: list[Detection]) -> list[Detection]:
        persons = [d for d in found if d.label in PERSON_LIKE]
        if len(persons) < self.min_persons:
            return found
        self.tiled_frames += 1
        height, width = image.shape[:2]
        windows = tiles(width, height, self._grid, self._overlap)
        crops = [np.ascontiguousarray(image[y0:y1, x0:x1]) for x0, y0, x1, y1 in windows]
        more: list[Detection] = []
        for window, boxes in zip(windows, self._inner.detect(crops), strict=True):
            x0, y0 = window[0], window[1]
            for d in boxes:
                if d.label in PERSON_LIKE:
                    a, b, c, e = d.xyxy
                    box = (a + x0, b + y0, c + x0, e + y0)
                    if self._edge and cut_by_tile(box, window, (width, height), self._edge):
                        continue
                    more.append(Detection(box, d.confidence, d.label, d.class_id))
        others = [d for d in found if d.label not in PERSON_LIKE]
        return [*others, *merge([*persons, *more], iou_same=self._iou)]


def tiled(detector: Detector, min_persons: int | None) -> Detector:
    """The person detector with the tiled pass (``detectors.person.tiles_above_persons``; None: off)."""
    return detector if min_persons is None else TiledDetector(detector, min_persons=min_persons)
