"""ByteTrack in NumPy alone: Ultralytics 8.4's ``BYTETracker`` (axis-aligned boxes, no GMC, no ReID) ported.

Why a port: ``ultralytics.trackers`` cannot be imported without ``ultralytics.utils``, which imports torch,
so every camera's tracker pulled ~400 MB of torch into an analysis node that runs OpenVINO or ONNX Runtime
and never needs it. The algorithm is Zhang et al.'s ByteTrack as Ultralytics implements it (AGPL-3.0, as
gridwatch is): Kalman filter on (centre x, centre y, aspect, height), a first association of the confident
detections by score-fused IoU, a second of the weak ones by plain IoU, unconfirmed tracks matched or
dropped, tracks lost for more than ``track_buffer`` frames removed. ``tests/detect/test_bytetrack.py``
checks it gives Ultralytics' ids, frame for frame, on random scenes.

The only other dependency is ``lap`` (a small C solver with no torch), which Ultralytics itself uses.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from enum import IntEnum

import lap
import numpy as np


class State(IntEnum):
    NEW = 0
    TRACKED = 1
    LOST = 2
    REMOVED = 3


_POS = 1.0 / 20  # Kalman noise weights, relative to the box height
_VEL = 1.0 / 160
_MOTION = np.eye(8) + np.eye(8, k=4)  # constant velocity, dt = 1 frame


def _initiate(xyah: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xyah = np.asarray(xyah, dtype=np.float64)
    h = xyah[3]
    std = [2 * _POS * h, 2 * _POS * h, 0.01, 2 * _POS * h, 10 * _VEL * h, 10 * _VEL * h, 1e-5, 10 * _VEL * h]
    return np.r_[xyah, np.zeros(4)], np.diag(np.square(std))


def _predict(means: np.ndarray, covs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Many tracks at once: ``means`` (n, 8), ``covs`` (n, 8, 8)."""
    h = means[:, 3]
    ones = np.ones_like(h)
    std = [_POS * h, _POS * h, 0.01 * ones, _POS * h, _VEL * h, _VEL * h, 1e-5 * ones, _VEL * h]
    squared = np.square(np.array(std)).T
    noise = np.zeros((len(means), 8, 8))
    noise[:, range(8), range(8)] = squared
    means = means @ _MOTION.T
    covs = np.dot(np.dot(_MOTION, covs).transpose((1, 0, 2)), _MOTION.T) + noise
    return means, covs


def _update(mean: np.ndarray, cov: np.ndarray, xyah: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h = mean[3]
    projected_cov = cov[:4, :4] + np.diag(np.square([_POS * h, _POS * h, 0.1, _POS * h]))
    gain = np.linalg.solve(projected_cov, cov[:, :4].T).T
    mean = mean + np.dot(xyah - mean[:4], gain.T)
    cov = cov - np.linalg.multi_dot((gain, projected_cov, gain.T))
    return mean, cov


def _xyah(tlwh: np.ndarray) -> np.ndarray:
    out = np.array(tlwh)  # in the box's own dtype, as Ultralytics computes it
    out[:2] += out[2:] / 2
    out[2] /= out[3]
    return out


class Track:
    """One tracklet: a detection's box and score, then a Kalman state once activated."""

    def __init__(self, tlwh: np.ndarray, score: np.float32, cls: np.float32, index: int) -> None:
        self._tlwh = tlwh.astype(np.float32)
        self.score = score
        self.cls = cls
        self.index = index
        self.mean: np.ndarray | None = None
        self.cov: np.ndarray | None = None
        self.state = State.NEW
        self.activated = False
        self.track_id = 0
        self.frame_id = 0
        self.start_frame = 0

    @property
    def tlwh(self) -> np.ndarray:
        if self.mean is None:
            return self._tlwh.copy()
        out = self.mean[:4].copy()
        out[2] *= out[3]
        out[:2] -= out[2:] / 2
        return out

    @property
    def xyxy(self) -> np.ndarray:
        out = self.tlwh
        out[2:] += out[:2]
        return out

    def activate(self, track_id: int, frame_id: int) -> None:
        self.track_id = track_id
        self.mean, self.cov = _initiate(_xyah(self._tlwh))
        self.state = State.TRACKED
        self.activated = frame_id == 1  # later tracks must be seen twice (see the unconfirmed stage)
        self.frame_id = self.start_frame = frame_id

    def update(self, detection: Track, frame_id: int) -> None:
        """Matched (a lost track refound, too): the Kalman update with the detection's box."""
        assert self.mean is not None and self.cov is not None
        self.mean, self.cov = _update(self.mean, self.cov, _xyah(detection.tlwh))
        self.state = State.TRACKED
        self.activated = True
        self.frame_id = frame_id
        self.score = detection.score
        self.cls = detection.cls
        self.index = detection.index


def _iou_distance(a: list[Track], b: list[Track]) -> np.ndarray:
    if not a or not b:
        return np.ones((len(a), len(b)), dtype=np.float32)
    boxes_a = np.asarray([t.xyxy for t in a], dtype=np.float32)
    boxes_b = np.asarray([t.xyxy for t in b], dtype=np.float32)
    ax1, ay1, ax2, ay2 = boxes_a.T
    bx1, by1, bx2, by2 = boxes_b.T
    inter = (np.minimum(ax2[:, None], bx2) - np.maximum(ax1[:, None], bx1)).clip(0) * (
        np.minimum(ay2[:, None], by2) - np.maximum(ay1[:, None], by1)
    ).clip(0)
    union = (bx2 - bx1) * (by2 - by1) + ((ax2 - ax1) * (ay2 - ay1))[:, None] - inter
    return np.asarray(1 - inter / (union + 1e-7), dtype=np.float32)


def _fused_distance(tracks: list[Track], detections: list[Track]) -> np.ndarray:
    """IoU distance weighted by the detection's score (Ultralytics' ``fuse_score``)."""
    dist = _iou_distance(tracks, detections)
    if dist.size == 0:
        return dist
    scores = np.array([d.score for d in detections])[None]
    return np.asarray(1 - (1 - dist) * scores)


def _assign(cost: np.ndarray, thresh: float) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Matches with cost ≤ ``thresh``, unmatched rows, unmatched columns (lap's Jonker–Volgenant)."""
    if cost.size == 0:
        return [], list(range(cost.shape[0])), list(range(cost.shape[1]))
    _, x, y = lap.lapjv(cost, extend_cost=True, cost_limit=thresh)
    matches = [(i, int(j)) for i, j in enumerate(x) if j >= 0]
    return matches, [int(i) for i in np.where(x < 0)[0]], [int(j) for j in np.where(y < 0)[0]]


def _join(a: Iterable[Track], b: Iterable[Track]) -> list[Track]:
    first = list(a)
    ids = {t.track_id for t in first}
    return first + [t for t in b if t.track_id not in ids]


def _minus(a: Iterable[Track], b: Iterable[Track]) -> list[Track]:
    ids = {t.track_id for t in b}
    return [t for t in a if t.track_id not in ids]


def _dedupe(a: list[Track], b: list[Track]) -> tuple[list[Track], list[Track]]:
    """Of a tracked and a lost track on the same spot, keep the older."""
    drop_a: set[int] = set()
    drop_b: set[int] = set()
    for p, q in zip(*np.where(_iou_distance(a, b) < 0.15), strict=True):
        if a[p].frame_id - a[p].start_frame > b[q].frame_id - b[q].start_frame:
            drop_b.add(int(q))
        else:
            drop_a.add(int(p))
    return [t for i, t in enumerate(a) if i not in drop_a], [t for i, t in enumerate(b) if i not in drop_b]


class BYTETracker:
    """Feed ``update`` one frame's boxes; it returns the confirmed tracks as Ultralytics' rows."""

    def __init__(
        self,
        *,
        track_high_thresh: float,
        track_low_thresh: float,
        new_track_thresh: float,
        track_buffer: int,
        match_thresh: float,
        fuse_score: bool = True,
    ) -> None:
        self._high = track_high_thresh
        self._low = track_low_thresh
        self._new = new_track_thresh
        self._buffer = track_buffer
        self._match = match_thresh
        self._fuse = fuse_score
        self.tracked: list[Track] = []
        self.lost: list[Track] = []
        self.removed: list[Track] = []
        self.frame_id = 0
        self._ids: Iterator[int] = itertools.count(1)

    def _distance(self, tracks: list[Track], detections: list[Track]) -> np.ndarray:
        return _fused_distance(tracks, detections) if self._fuse else _iou_distance(tracks, detections)

    def update(self, xyxy: np.ndarray, scores: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Rows ``[x1, y1, x2, y2, track_id, score, cls, index]``; ``index`` is the row of the input box."""
        self.frame_id += 1
        activated: list[Track] = []
        refound: list[Track] = []
        lost: list[Track] = []
        removed: list[Track] = []
        wh = xyxy[:, 2:4] - xyxy[:, 0:2]
        valid = (wh[:, 0] > 0) & (wh[:, 1] > 0)  # a zero height would make the Kalman mean infinite
        high = valid & (scores >= self._high)
        low = valid & (scores > self._low) & (scores < self._high)

        # The same float32 centre boxes, widened to float64 for the corner, as Ultralytics does: both
        # trackers then see bit-identical boxes and make the same choices.
        xywh = np.concatenate([xyxy[:, :2] + wh / 2, wh], axis=1).astype(np.float64)
        tlwh = np.concatenate([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, 2:]], axis=1).astype(np.float32)

        def tracks_of(mask: np.ndarray) -> list[Track]:
            return [Track(tlwh[i], scores[i], classes[i], int(i)) for i in np.flatnonzero(mask)]

        detections, weak = tracks_of(high), tracks_of(low)
        unconfirmed = [t for t in self.tracked if not t.activated]
        pool = _join([t for t in self.tracked if t.activated], self.lost)
        if pool:
            means = np.asarray([t.mean for t in pool])
            covs = np.asarray([t.cov for t in pool])
            for i, track in enumerate(pool):
                if track.state != State.TRACKED:
                    means[i][7] = 0  # a lost track stops growing
            means, covs = _predict(means, covs)
            for track, mean, cov in zip(pool, means, covs, strict=True):
                track.mean, track.cov = mean, cov

        def apply(matches: list[tuple[int, int]], tracks: list[Track], dets: list[Track]) -> None:
            for t, d in matches:
                track = tracks[t]
                (activated if track.state == State.TRACKED else refound).append(track)
                track.update(dets[d], self.frame_id)

        matches, left_tracks, left_dets = _assign(self._distance(pool, detections), self._match)
        apply(matches, pool, detections)
        # Second chance for tracks still tracked: the weak detections, by IoU alone.
        remaining = [pool[i] for i in left_tracks if pool[i].state == State.TRACKED]
        if remaining and weak:
            matches, unmatched, _ = _assign(_iou_distance(remaining, weak), 0.5)
            apply(matches, remaining, weak)
        else:
            unmatched = list(range(len(remaining)))
        for i in unmatched:
            remaining[i].state = State.LOST
            lost.append(remaining[i])
        # Tracks born last frame must match now or go.
        detections = [detections[i] for i in left_dets]
        if unconfirmed:
            matches, gone, left_dets = _assign(self._distance(unconfirmed, detections), 0.7)
            for t, d in matches:
                unconfirmed[t].update(detections[d], self.frame_id)
                activated.append(unconfirmed[t])
            for i in gone:
                unconfirmed[i].state = State.REMOVED
                removed.append(unconfirmed[i])
        else:
            left_dets = list(range(len(detections)))
        for i in left_dets:
            if detections[i].score >= self._new:
                detections[i].activate(next(self._ids), self.frame_id)
                activated.append(detections[i])
        for track in self.lost:
            if self.frame_id - track.frame_id > self._buffer:
                track.state = State.REMOVED
                removed.append(track)

        tracked = _join(_join([t for t in self.tracked if t.state == State.TRACKED], activated), refound)
        # Ultralytics subtracts the removed tracks of earlier frames only: a track dropped now as stale stays
        # in the lost pool one more frame. Kept, so both trackers give the same ids.
        still_lost = _minus(self.lost, tracked) + lost
        still_lost = _minus(still_lost, self.removed)
        self.tracked, self.lost = _dedupe(tracked, still_lost)
        self.removed = (self.removed + removed)[-1000:]
        rows = [[*t.xyxy.tolist(), t.track_id, t.score, t.cls, t.index] for t in self.tracked if t.activated]
        return np.asarray(rows, dtype=np.float32).reshape(-1, 8)
