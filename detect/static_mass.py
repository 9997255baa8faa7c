"""Occupation by anything: a new mass that stays put in a no-occupation zone, whatever the detector calls it.

Goods piled on a pavement, a cart, debris in a fire lane: no COCO class names them. Per zone this keeps

- a **long-term reference** of the empty scene: a reference picture captured when the zone was calibrated
  (``reference_image``), else the first frames seen; it then follows slow changes only where the scene
  matches it (the quiet pixels), so a parked object is not learned as background for ``absorb_seconds``;
- a **short-term** background (OpenCV's MOG2, ~10 s of history) saying what is moving right now;
- a per-pixel **static accumulator** in seconds: it grows where the scene differs from the reference and
  nothing moves, decays elsewhere, and is held (neither grows nor decays) under a detected person, so a
  person standing in front of an object neither adds to it nor resets it.

A connected region whose pixels have been static for ``min_seconds`` and that covers ``min_area_fraction``
of the zone is a mass; its box becomes an occupation object (label ``object``).

Light: both models compare **illumination-normalised** pictures, grey / local mean (a ratio image), which
a global brightness change, day/night gain and soft shadows scale away; hard-edged shadows of passers-by
move, and so never accumulate. People: detected persons are masked; undetected passers-by move. Rain:
streaks move. All of it with OpenCV; only the bookkeeping is ours.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from detect.hours import in_hours, parse_hours
from detect.labels import PERSON_LIKE
from detect.whole_picture import WholePicture, ratio_image
from detect.zones import validate_polygon
from models.records import Detection, StaticMassSettings, Zone

logger = logging.getLogger(__name__)

#: Work on a small copy of the zone: a mass worth reporting is many pixels even at this size.
WORK_SIDE = 192
#: Ratio images are ~1.0 where the scene is unchanged; differences above this are "not the empty scene".
DIFF_THRESHOLD = 0.16
#: Seconds of history of the short-term (moving) model.
MOVING_HISTORY_SECONDS = 10.0
#: Slow drift the reference follows where the scene matches it (dust, seasons, a repainted kerb).
REFERENCE_TAU_SECONDS = 300.0
LABEL = "object"
#: The label of a mass in a zone whose masses are a shop's goods (StaticMassSettings.occupant).
GOODS_LABEL = "goods"
#: Work pixels over which brightness is normalised: wider than most masses, so their own contrast stays.
LOCAL_SIGMA = 16.0
#: A pixel seen again after an occlusion is "the same mass" when its neighbourhood (MATCH_SIDE work pixels
#: square) differs from how it looked just before by less than this, on average, in the ratio image.
MATCH_THRESHOLD = 0.08
MATCH_SIDE = 5
#: Of T, the share a mass must have been seen (not hidden by a passer-by) before it is reported.
MIN_VISIBLE_FRACTION = 1 / 3
#: A mass seen free this long may then be seen through a person's box: not a person's own coat, which a
#: detector that misses its person for a frame or two shows for no longer.
PEEK_AFTER_SECONDS = 2.0
#: A shift of the whole picture against the reference larger than this (work pixels) is a camera that moved,
#: not one that sways: a swaying or leaning pole moves edges that the short-term model learns as they come.
MAX_SHIFT = 16.0
#: A fainter peak says the camera moved only when it stays at the same shift (within FAINT_AGREE work px)
#: for FAINT_LOOKS analysed frames in a row.
MIN_FAINT_RESPONSE = 0.12
FAINT_LOOKS = 3
FAINT_AGREE = 2.0
#: A view watched this long is kept when the camera turns away (a PTZ preset), to go on with on its return.
VIEW_KEEP_SECONDS = 10.0
#: Views kept per zone (besides the one watched now); the oldest goes first.
MAX_VIEWS = 4
#: A reference flatter than this (standard deviation of the ratio image) has nothing to match a shift by.
MIN_TEXTURE = 0.01
#: A move needs a clear peak of the phase correlation: a turned camera's view matches its old one, shifted,
#: at 0.9 and more, where a new object's contrast can throw a stray peak far off at about 0.1.
MIN_MOVE_RESPONSE = 0.5
#: For this long after a turn told by the whole picture changing, what stays put where the new view was
#: learned is taken in as that view (within about SETTLE_TAU_SECONDS), not reported: a person whose box
#: missed part of them as the view was learned leaves a "ghost" of that part when they walk on. Not after a
#: registered shift: a shaking pole registers false ones (the petrol-station clip), and goods set down
#: then must still count.
SETTLE_SECONDS = 10.0
SETTLE_TAU_SECONDS = 1.0


def normalised(grey: np.ndarray) -> np.ndarray:
    """grey / local mean: invariant to a brightness gain over the neighbourhood (light, exposure)."""
    return ratio_image(grey, LOCAL_SIGMA)


@dataclass(slots=True)
class _Region:
    x: int
    y: int
    w: int
    h: int
    scale: float
    mask: np.ndarray  # zone polygon, in work pixels


@dataclass(slots=True)
class _View:
    """What a zone knew of one view of the camera, kept while it looks elsewhere. The short-term model is
    not kept (megabytes a view; it learns again in seconds)."""

    reference: np.ndarray
    known: np.ndarray
    static: np.ndarray
    visible: np.ndarray
    hidden: np.ndarray
    seen: np.ndarray


class StaticMass:
    """The class-agnostic half of a zone's occupation: call ``update`` with every analysed frame."""

    def __init__(self, zone: Zone, settings: StaticMassSettings | None = None) -> None:
        validate_polygon(zone.polygon_px)
        self.zone = zone
        self.settings = settings or zone.static_mass or StaticMassSettings()
        self._hours = parse_hours(self.settings.prohibited_hours)
        self._label = GOODS_LABEL if self.settings.occupant == "goods" else LABEL
        self._region: _Region | None = None
        self._reference: np.ndarray | None = None
        self._moving = _short_term_model()
        self._static: np.ndarray | None = None
        #: Seconds each pixel was seen static (no occluder), and seconds it has been hidden since it was
        #: last seen static: credited to ``_static`` only if it looks the same when it is seen again.
        self._visible: np.ndarray | None = None
        self._hidden: np.ndarray | None = None
        #: The ratio image where each pixel was last seen static: the mass's appearance before an occlusion.
        self._seen: np.ndarray | None = None
        #: Pixels the reference has seen as the scene itself; those hidden by a person at the first look
        #: are learned when first seen free, or the place a person left would look like a new mass.
        self._known: np.ndarray | None = None
        self._last: datetime | None = None
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        self._open_kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self._outside_logged = False
        self._window: np.ndarray | None = None
        #: The camera has moved and its new view is being learned (logged once a move).
        self._moved = False
        #: The whole picture, watched for a turn to a view that shares nothing with the old one.
        self._picture = WholePicture(zone)
        #: Until when a view learned after a turn is still settling (see SETTLE_SECONDS), and whether the
        #: last turn was told by the whole picture changing (not by a registered shift).
        self._learning_until: datetime | None = None
        self._changed_all = False
        #: The zone's ratio image at the last look.
        self._previous: np.ndarray | None = None
        #: Shifts of the last looks whose peak was too faint alone to say the camera moved.
        self._faint: list[tuple[float, float]] = []
        #: Views watched before the camera turned away, and since when the current one is watched.
        self._views: list[_View] = []
        self._view_since: datetime | None = None

    def _setup(self, image: np.ndarray) -> _Region:
        height, width = image.shape[:2]
        xs = [p[0] for p in self.zone.polygon_px]
        ys = [p[1] for p in self.zone.polygon_px]
        x0, y0 = max(0, int(min(xs))), max(0, int(min(ys)))
        x1, y1 = min(width, int(np.ceil(max(xs)))), min(height, int(np.ceil(max(ys))))
        scale = min(1.0, WORK_SIDE / max(x1 - x0, y1 - y0, 1))
        w, h = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
        mask = np.zeros((h, w), np.uint8)
        polygon = (np.array(self.zone.polygon_px, np.float32) - (x0, y0)) * scale
        cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 255)
        return _Region(x0, y0, x1 - x0, y1 - y0, scale, mask)

    def _feature(self, image: np.ndarray, region: _Region) -> np.ndarray:
        crop = image[region.y : region.y + region.h, region.x : region.x + region.w]
        # Grey before scaling down: area averaging is the costly step, and on one channel it is a third.
        grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
        size = (region.mask.shape[1], region.mask.shape[0])
        return normalised(cv2.resize(grey, size, interpolation=cv2.INTER_AREA))

    def _initial_reference(self, region: _Region) -> np.ndarray | None:
        if self.settings.reference_image is None:
            return None
        picture = cv2.imread(str(Path(self.settings.reference_image)))
        if picture is None:
            raise ValueError(
                f"zone {self.zone.name}: cannot read reference image {self.settings.reference_image}"
            )
        return self._feature(picture, region)

    def _person_mask(self, detections: Sequence[Detection], region: _Region) -> np.ndarray:
        mask = np.zeros_like(region.mask)
        for d in detections:
            if d.label not in PERSON_LIKE:
                continue
            x1, y1, x2, y2 = d.xyxy
            # A margin: boxes are loose at the feet and the head, where a shadow also falls.
            pad_x, pad_y = 0.15 * (x2 - x1), 0.1 * (y2 - y1)
            p1 = (
                round((x1 - pad_x - region.x) * region.scale),
                round((y1 - pad_y - region.y) * region.scale),
            )
            p2 = (
                round((x2 + pad_x - region.x) * region.scale),
                round((y2 + pad_y - region.y) * region.scale),
            )
            cv2.rectangle(mask, p1, p2, 255, -1)
        return mask > 0

    def update(self, image: np.ndarray, detections: Sequence[Detection], at: datetime) -> list[Detection]:
        """The masses static for ``min_seconds`` now (empty outside the zone's prohibited hours)."""
        if self._region is None:
            self._region = self._setup(image)
        region = self._region
        if (
            region.w <= 0
            or region.h <= 0
            or image.shape[0] < region.y + region.h
            or image.shape[1] < region.x + region.w
        ):
            # The zone lies outside this picture (a stream smaller than the camera's frame size): nothing to
            # watch, and one log line rather than a failed camera loop every frame.
            if not self._outside_logged:
                logger.warning(
                    "zone %s lies outside the %dx%d picture: no static-mass watch",
                    self.zone.name,
                    image.shape[1],
                    image.shape[0],
                )
                self._outside_logged = True
            return []
        feature = self._feature(image, region)
        persons = self._person_mask(detections, region)
        dt = 0.0 if self._last is None else min(2.0, max(0.0, (at - self._last).total_seconds()))
        changed_all = self._picture.changed(image, detections, dt)
        previous, self._previous = self._previous, feature
        if self._reference is None:
            # The calibration picture is of the view the zone was drawn on: after a turn, the new view
            # is learned from what is seen (that view, if the camera comes back, is a kept one).
            turned = bool(self._views) or self._moved
            self._learning_until = at + timedelta(seconds=SETTLE_SECONDS) if self._changed_all else None
            self._reference = None if turned else self._initial_reference(region)
            self._known = np.ones(feature.shape, bool)
            if self._reference is None:
                self._reference = feature.copy()
                # Learned only where the picture also looks as it did a look ago: after a turn the
                # short-term model starts afresh and says nothing moves, and a person walking just outside
                # their box would be learned as the scene and found as a mass T later (a ghost of them).
                self._known = ~persons
                if previous is not None:
                    self._known &= np.abs(feature - previous) <= DIFF_THRESHOLD
            self._static = np.zeros_like(feature)
            self._visible = np.zeros_like(feature)
            self._hidden = np.zeros_like(feature)
            self._seen = feature.copy()
            self._view_since = at
        elif self._camera_moved(feature, persons, at, changed_all):
            return []
        assert self._static is not None and self._known is not None
        assert self._visible is not None and self._hidden is not None and self._seen is not None
        self._last = at
        moving = self._moving.apply(np.clip(feature * 128.0, 0, 255).astype(np.uint8)) > 0
        moving = cv2.dilate(moving.astype(np.uint8), self._kernel) > 0
        differs = np.abs(feature - self._reference) > DIFF_THRESHOLD
        differs = cv2.morphologyEx(differs.astype(np.uint8), cv2.MORPH_OPEN, self._open_kernel) > 0
        unknown = ~self._known & ~persons & ~moving
        self._reference[unknown] = feature[unknown]
        self._known |= unknown
        differs &= self._known
        inside = region.mask > 0
        growing = differs & ~moving & ~persons & inside
        # Looks as it did when last seen static: the same mass, whether seen through a box or again.
        same_look = cv2.blur(np.abs(feature - self._seen), (MATCH_SIDE, MATCH_SIDE)) < MATCH_THRESHOLD
        # A person's box is mostly background: where a mass already seen shows through it still (between
        # the legs of a crowd crossing in front) and looks as it did, it is seen, not hidden.
        peek = persons & differs & ~moving & inside & (self._visible >= PEEK_AFTER_SECONDS) & same_look
        growing |= peek
        shrinking = ~differs & ~persons
        self._ride_out_occlusion(feature, differs, (moving | persons) & ~peek, growing, same_look, dt)
        self._static[growing] += dt
        self._static[shrinking] -= 2.0 * dt
        self._visible[growing] += dt
        self._visible[shrinking] -= 2.0 * dt
        ceiling = self.zone.min_seconds + 60.0
        np.clip(self._static, 0.0, ceiling, out=self._static)
        np.clip(self._visible, 0.0, ceiling, out=self._visible)
        # The reference follows slow drift where the scene matches it; a parked object only over hours.
        quiet = (~differs & ~moving & ~persons).astype(np.uint8)
        if dt:
            cv2.accumulateWeighted(feature, self._reference, min(1.0, dt / REFERENCE_TAU_SECONDS), quiet)
            held = (differs & ~moving & ~persons).astype(np.uint8)
            settling = self._learning_until is not None and at < self._learning_until
            absorb = SETTLE_TAU_SECONDS if settling else self.settings.absorb_seconds
            cv2.accumulateWeighted(feature, self._reference, min(1.0, dt / absorb), held)
        if not in_hours(at, self._hours, self.settings.timezone):
            return []
        return self._masses(region, inside)

    def _camera_moved(
        self, feature: np.ndarray, persons: np.ndarray, at: datetime, changed_all: bool
    ) -> bool:
        """Whether the whole picture shifted far against the reference: a PTZ camera turned, a mount
        knocked; or changed as a whole (``changed_all``: a turn to a view with nothing of the old one in
        it, so no shift to register). Everything it then sees is new and none of it a mass, so the empty
        scene is learned again from the next picture on, unless it is a view watched before (a PTZ
        preset it returns to): then that view's reference and seconds are taken up again."""
        assert self._reference is not None
        if self._window is None:
            self._window = cv2.createHanningWindow((feature.shape[1], feature.shape[0]), cv2.CV_32F)
        # Persons are left out of the match: they move on their own, and a crowd would drag the shift along.
        weight = self._window * ~persons
        reference = (self._reference - float(self._reference.mean())) * weight
        if float(reference.std()) < MIN_TEXTURE and not changed_all:
            return False  # a blank scene: nothing to tell a shift by
        current = (feature - float(feature.mean())) * weight
        (dx, dy), response = cv2.phaseCorrelate(reference, current)
        shift = float(np.hypot(dx, dy))
        registered = shift > MAX_SHIFT
        if registered and response < MIN_MOVE_RESPONSE:
            # A large new object in view lowers the peak of a real move (0.18 where 0.64 without it), but
            # the peak stays where the picture went, frame after frame; a stray peak does not hold still.
            self._faint = (
                [*self._faint[-(FAINT_LOOKS - 1) :], (dx, dy)] if response >= MIN_FAINT_RESPONSE else []
            )
            registered = len(self._faint) == FAINT_LOOKS and all(
                np.hypot(x - dx, y - dy) <= FAINT_AGREE for x, y in self._faint
            )
        elif not registered:
            self._faint = []
        if not registered and not changed_all:
            self._moved = False
            return False
        self._faint = []
        self._picture.forget()  # the picture is learned again too, from the next look on
        back = self._view_back(current, weight)
        if self._view_since is not None and (at - self._view_since).total_seconds() >= VIEW_KEEP_SECONDS:
            self._views = [*self._views[-(MAX_VIEWS - 1) :], self._view_now()]
        self._moving = _short_term_model()
        name = self.zone.name
        if back is not None:
            logger.info("zone %s: the camera is back at a view it watched before; going on with it", name)
            self._restore(back)
            self._view_since = at
            self._learning_until = None  # a kept view has settled; what was pending in it still counts
        else:
            if not self._moved and registered:
                logger.info("zone %s: the picture moved %.0f px; learning its empty scene again", name, shift)
            elif not self._moved:
                logger.info(
                    "zone %s: the whole picture changed at once; learning its empty scene again", name
                )
            self._reference = None
            self._view_since = None
        self._moved = True
        self._changed_all = not registered
        return True

    def _view_now(self) -> _View:
        assert self._reference is not None and self._known is not None and self._static is not None
        assert self._visible is not None and self._hidden is not None and self._seen is not None
        return _View(self._reference, self._known, self._static, self._visible, self._hidden, self._seen)

    def _view_back(self, current: np.ndarray, weight: np.ndarray) -> _View | None:
        """The kept view the picture is now (within a sway of it), taken out of the kept ones; else None.
        The faint bar: goods still standing in that view lower the peak as they did before it turned."""
        best, best_response = None, MIN_FAINT_RESPONSE
        for view in self._views:
            reference = (view.reference - float(view.reference.mean())) * weight
            (dx, dy), response = cv2.phaseCorrelate(reference, current)
            if np.hypot(dx, dy) <= MAX_SHIFT and response >= best_response:
                best, best_response = view, response
        if best is not None:
            self._views = [v for v in self._views if v is not best]
        return best

    def _restore(self, view: _View) -> None:
        self._reference, self._known, self._static = view.reference, view.known, view.static
        self._visible, self._hidden, self._seen = view.visible, view.hidden, view.seen

    def _ride_out_occlusion(
        self,
        feature: np.ndarray,
        differs: np.ndarray,
        covered: np.ndarray,
        growing: np.ndarray,
        same_look: np.ndarray,
        dt: float,
    ) -> None:
        """Time a static pixel spends hidden (a person in front, something moving across it) counts toward
        T only once it is seen again looking as it did before (``same_look``): the same mass was there all
        along. Seen again different (a passer-by's coat where another's was), the hidden time is dropped."""
        assert self._static is not None and self._visible is not None
        assert self._hidden is not None and self._seen is not None
        self._hidden[covered & (self._static > 0)] += dt
        seen_again = ~covered & (self._hidden > 0)
        if seen_again.any():
            same = seen_again & differs & same_look
            self._static[same] += self._hidden[same]
            self._hidden[seen_again] = 0.0
        self._seen[growing] = feature[growing]

    def _masses(self, region: _Region, inside: np.ndarray) -> list[Detection]:
        """Regions static for ``min_seconds``, each boxed with its pixels static for half that (hysteresis):
        an object's edges reach T a few frames before its flat middle, and the box should hold all of it."""
        assert self._static is not None and self._visible is not None
        seeds = (
            (self._static >= self.zone.min_seconds)
            & (self._visible >= MIN_VISIBLE_FRACTION * self.zone.min_seconds)
            & inside
        )
        if not seeds.any():
            return []
        grown = ((self._static >= 0.5 * self.zone.min_seconds) & inside).astype(np.uint8)
        # A flat-faced object shows in the ratio image by its outline only: its area is what the outline
        # of its static pixels encloses, not the count of those pixels.
        grown = _filled(cv2.morphologyEx(grown, cv2.MORPH_CLOSE, self._kernel)).astype(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
        seeds = _filled(cv2.morphologyEx(seeds.astype(np.uint8), cv2.MORPH_CLOSE, self._kernel)) & inside
        seeded = np.bincount(labels[seeds], minlength=count)
        min_area = self.settings.min_area_fraction * float(inside.sum())
        masses = []
        for label in range(1, count):
            if seeded[label] < min_area:
                continue
            x, y, w, h = (int(v) for v in stats[label][:4])
            box = (
                region.x + x / region.scale,
                region.y + y / region.scale,
                region.x + (x + w) / region.scale,
                region.y + (y + h) / region.scale,
            )
            masses.append(Detection(xyxy=box, confidence=1.0, label=self._label, class_id=-1))
        return masses


def _short_term_model() -> cv2.BackgroundSubtractorMOG2:
    """What moves now: about ``MOVING_HISTORY_SECONDS`` of frames at the analysis rate."""
    return cv2.createBackgroundSubtractorMOG2(history=20, varThreshold=16, detectShadows=False)


def _filled(mask: np.ndarray) -> np.ndarray:
    """The mask with every hole its outlines enclose filled."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(mask)
    cv2.drawContours(filled, contours, -1, 1, thickness=-1)
    return filled > 0
