"""A turn to a view that shares nothing with the old one, told by the whole picture changing at once.

A zone's static-mass watch (detect/static_mass.py) tells a turned camera by phase correlation, which needs
the two views to share enough of the picture. A PTZ preset change often shares none: then there is no shift
to register, and every edge of the new view would differ from the zone's reference and be a mass T later.
This watches the whole picture instead, small and ratio-normalised like the zone, in cells: a turn changes
nearly every cell at once and for good, where a crowd, a lorry or a shadow changes some. Measured on real
footage and the eval's scenes in docs/detection.md (occupation, a turn to a view that does not overlap).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from detect.labels import PERSON_LIKE
from models.records import Detection, Zone

#: A turn to a view that shares nothing with the old one has no shift to register. It is told by the whole
#: picture, not the zone: everything in it differs at once, where a crowd, a lorry or a shadow changes a part.
#: The picture is watched this many pixels on its long side,
FRAME_SIDE = 192
#: ratio-normalised over this many of those pixels (a zone's LOCAL_SIGMA, for a picture this small) and
#: compared with its reference, both blurred by FRAME_BLUR pixels so that a sway of a few pixels still
#: matches (a synthetic 4 px sway: 0.93 at 2 px; any other view: about 0).
FRAME_SIGMA = 4.0
FRAME_BLUR = 2.0
#: It is compared cell by cell (FRAME_CELL pixels square), so that one high-contrast thing (a lorry close
#: to the camera) cannot outweigh the rest: a cell changed where its correlation with its reference is
#: under FRAME_UNLIKE (or where one of the two is flat and the other is not),
FRAME_CELL = 32
FRAME_UNLIKE = 0.3
#: and the picture changed as a whole where this share of its cells changed (people's boxes left out)
FRAME_CHANGED = 0.8
#: for this many analysed frames in a row (a PTZ turn takes a second or two; a lorry passing close fills
#: the picture for about as long, and costs at worst a relearned zone, not an event),
FRAME_LOOKS = 3
#: in a picture that usually changes far less: where the changed share is usually over this (a busy
#: square seen from above, its people mostly too small to detect, changes everywhere all the time), a
#: turn cannot be told from the scene's own bustle, and is not looked for. Usually: the share's running
#: mean over about FRAME_USUAL_SECONDS.
FRAME_USUAL_MAX = 0.4
FRAME_USUAL_SECONDS = 60.0
#: The picture's reference follows it this slowly: a turn's three looks barely move it, a day's light does.
FRAME_TAU_SECONDS = 30.0
#: Less of the picture than this left out of people's boxes says nothing either way.
FRAME_MIN_FREE = 0.3
#: A cell whose ratio image varies less than this (variance) is flat.
FLAT = 1e-5


def ratio_image(grey: np.ndarray, sigma: float) -> np.ndarray:
    """grey / local mean over ``sigma`` pixels: invariant to a brightness gain over the neighbourhood."""
    grey = grey.astype(np.float32)
    local: np.ndarray = cv2.GaussianBlur(grey, (0, 0), sigmaX=sigma)
    ratio: np.ndarray = grey / (local + 4.0)
    return ratio


class WholePicture:
    """Per zone: whether the picture around it changed as a whole; ``changed`` with every analysed frame."""

    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        #: The picture, small and ratio-normalised, as it has looked lately; and for how many looks in a row
        #: most of it has differed.
        self._reference: np.ndarray | None = None
        self._looks = 0
        self._outside: np.ndarray | None = None
        #: Starts between calm and busy: a picture must show itself calm for some seconds (13 from here)
        #: before a sudden change of all of it is taken for a turn.
        self._usual = 0.5

    def forget(self) -> None:
        """The camera turned (however it was told): the picture is learned again from the next look."""
        self._reference = None

    def changed(self, image: np.ndarray, detections: Sequence[Detection], dt: float) -> bool:
        """Whether most of the picture, people's boxes left out, has differed from how it looked lately for
        FRAME_LOOKS looks in a row: a turn to a view with nothing in common with the old one."""
        height, width = image.shape[:2]
        scale = FRAME_SIDE / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        # Twice the size by nearest pixels first: area averaging all of a full HD picture is the costly step.
        half = cv2.resize(image, (2 * size[0], 2 * size[1]), interpolation=cv2.INTER_NEAREST)
        grey = cv2.cvtColor(half, cv2.COLOR_BGR2GRAY)
        thumb = ratio_image(cv2.resize(grey, size, interpolation=cv2.INTER_AREA), FRAME_SIGMA)
        if self._reference is None or self._reference.shape != thumb.shape:
            self._reference = thumb
            self._looks = 0
            self._outside = self._outside_zone(thumb.shape, scale)
            return False
        # The zone's own pixels are left out when enough of the picture lies outside it: a lorry that fills
        # the zone is the zone's business, where a turn changes the picture around it as well.
        free = self._outside.copy() if self._outside is not None else np.ones(thumb.shape, bool)
        for d in detections:
            if d.label in PERSON_LIKE:
                x1, y1, x2, y2 = (round(v * scale) for v in d.xyxy)
                free[max(0, y1 - 1) : y2 + 2, max(0, x1 - 1) : x2 + 2] = False
        changed = changed_cells(thumb, self._reference, free) if free.mean() >= FRAME_MIN_FREE else None
        if changed is None:
            return False  # people in front of most of it: this look counts neither way, nor is it learned
        calm = self._usual <= FRAME_USUAL_MAX
        self._looks = self._looks + 1 if changed >= FRAME_CHANGED and calm else 0
        if dt:
            self._usual += min(1.0, dt / FRAME_USUAL_SECONDS) * (changed - self._usual)
        if self._looks >= FRAME_LOOKS:
            self._reference = thumb
            self._looks = 0
            return True
        if dt and not self._looks:
            # Not while it looks changed: a new view's strong edges would soon outweigh the old view's.
            cv2.accumulateWeighted(thumb, self._reference, min(1.0, dt / FRAME_TAU_SECONDS))
        return False

    def _outside_zone(self, shape: tuple[int, ...], scale: float) -> np.ndarray | None:
        """Where the picture (at ``scale``) lies outside the zone; None where that is under FRAME_MIN_FREE."""
        inside = np.zeros(shape[:2], np.uint8)
        polygon = np.round(np.array(self.zone.polygon_px, np.float32) * scale).astype(np.int32)
        cv2.fillPoly(inside, [polygon], 1)
        outside = inside == 0
        return outside if outside.mean() >= FRAME_MIN_FREE else None


def changed_cells(a: np.ndarray, b: np.ndarray, free: np.ndarray) -> float | None:
    """The share of FRAME_CELL cells (at least half free) where ``a`` and ``b``, blurred by FRAME_BLUR, do
    not correlate; None when fewer than a quarter of the cells can say (a crowd in front of most)."""
    rows, cols = a.shape[0] // FRAME_CELL, a.shape[1] // FRAME_CELL
    if not rows or not cols:
        return None

    def cells(x: np.ndarray) -> np.ndarray:
        x = x[: rows * FRAME_CELL, : cols * FRAME_CELL].reshape(rows, FRAME_CELL, cols, FRAME_CELL)
        return x.transpose(0, 2, 1, 3).reshape(rows, cols, FRAME_CELL * FRAME_CELL)

    x = cells(cv2.GaussianBlur(a, (0, 0), FRAME_BLUR))
    y = cells(cv2.GaussianBlur(b, (0, 0), FRAME_BLUR))
    w = cells(free).astype(np.float32)
    n = w.sum(axis=2)
    usable = n >= 0.5 * FRAME_CELL * FRAME_CELL
    n = np.maximum(n, 1.0)
    x = x - ((x * w).sum(axis=2) / n)[..., None]
    y = y - ((y * w).sum(axis=2) / n)[..., None]
    ex, ey = (x * x * w).sum(axis=2) / n, (y * y * w).sum(axis=2) / n
    exy = (x * y * w).sum(axis=2) / n
    flat_x, flat_y = ex < FLAT, ey < FLAT
    said = usable & ~(flat_x & flat_y)  # sky, a blank wall: nothing to tell
    unlike = (flat_x | flat_y) | (exy < FRAME_UNLIKE * np.sqrt(np.maximum(ex * ey, 1e-20)))
    count = int(said.sum())
    if count < 0.25 * rows * cols:
        return None
    return float((said & unlike).sum()) / count
