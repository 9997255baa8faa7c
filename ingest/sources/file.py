"""A local video file played as if it were a camera: the demo camera and the tests' input."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import cv2

from ingest.frames import Image
from ingest.health import CameraState
from ingest.sources.threaded import ThreadedSource
from models.clock import Clock

logger = logging.getLogger(__name__)

#: Used when a container does not say its frame rate (OpenCV then reports 0).
DEFAULT_FPS = 25.0


class FileSource(ThreadedSource):
    """Decode a file with OpenCV, looping at its end if asked, paced at its frame rate if asked.

    Pacing reads ``monotonic`` (seconds) and sleeps with ``wait(seconds)``, which returns True when the
    source was stopped meanwhile; by default the monotonic clock and the stop event's wait. Tests pass a
    virtual clock that ``wait`` advances, so the pace is checked without the wall clock.
    """

    def __init__(
        self,
        camera_id: str,
        path: Path | str,
        clock: Clock,
        *,
        loop: bool = True,
        realtime: bool = True,
        fps_override: float | None = None,
        queue_size: int = 2,
        monotonic: Callable[[], float] = time.monotonic,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        if fps_override is not None and fps_override <= 0:
            raise ValueError(f"fps_override must be positive, got {fps_override}")
        super().__init__(camera_id, clock, queue_size=queue_size)
        self.path = Path(path)
        self.loop = loop
        self.realtime = realtime
        self.fps_override = fps_override
        self._monotonic = monotonic
        self._wait = wait if wait is not None else self._stop.wait

    def _run(self) -> None:
        period_s: float | None = None
        next_due = self._monotonic()
        while not self._stop.is_set():
            capture = cv2.VideoCapture(str(self.path))
            try:
                if not capture.isOpened():
                    logger.error("camera %s: cannot open video file %s", self.camera_id, self.path)
                    self._post_state(CameraState.OFFLINE, f"cannot open video file {self.path}")
                    return
                fps = self.fps_override or capture.get(cv2.CAP_PROP_FPS) or DEFAULT_FPS
                period_s = 1.0 / fps if self.realtime else None
                decoded = self._play(capture, period_s, next_due)
            finally:
                capture.release()
            if decoded is None:
                return
            if decoded == 0:
                self._post_state(CameraState.OFFLINE, f"no decodable frames in {self.path}")
                return
            if not self.loop:
                self._post_state(CameraState.OFFLINE, "end of file")
                return
            logger.debug("camera %s: end of %s after %d frames, looping", self.camera_id, self.path, decoded)
            next_due = self._monotonic() + (period_s or 0.0)

    def _play(self, capture: cv2.VideoCapture, period_s: float | None, next_due: float) -> int | None:
        """Emit the file's frames once; returns how many, or None when stopped."""
        decoded = 0
        while not self._stop.is_set():
            ok, image = capture.read()
            if not ok:
                return decoded
            if period_s is not None:
                delay = next_due - self._monotonic()
                if delay > 0 and self._wait(delay):
                    return None
                # After a long hiccup, carry on at the file's pace instead of bursting to catch up.
                next_due = max(next_due + period_s, self._monotonic())
            # OpenCV does not expose picture types; only a file's first frame is surely a keyframe.
            self._emit(cast(Image, image), keyframe=decoded == 0)
            decoded += 1
        return None
