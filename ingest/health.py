"""What a frame source knows about its camera: state, reason, frame rate and a log of state changes.

CameraHealth is mutated on the event loop thread only (sources post their updates there), so its
``on_change`` hook runs on the loop and may schedule asyncio work directly.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from models.clock import Clock

logger = logging.getLogger(__name__)


class CameraState(enum.StrEnum):
    CONNECTING = "connecting"
    ONLINE = "online"
    #: Connected, but no frame for longer than the source's stall limit.
    STALLED = "stalled"
    OFFLINE = "offline"
    #: The camera refused the credentials (RTSP 401); retried slowly, never fixed by retrying alone.
    AUTH_FAILED = "auth_failed"


@dataclass(frozen=True, slots=True)
class Transition:
    state: CameraState
    at: datetime
    reason: str


ChangeHook = Callable[["CameraHealth", Transition], None]


class CameraHealth:
    """Health of one camera; ``transitions`` gets one entry per change of state."""

    #: Weight of the newest inter-frame interval in its moving average.
    FPS_ALPHA = 0.2
    #: Transitions kept; a camera flapping for months must not grow memory without bound.
    MAX_TRANSITIONS = 256

    def __init__(
        self,
        camera_id: str,
        clock: Clock,
        *,
        on_change: ChangeHook | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.on_change = on_change
        self._clock = clock
        self.state = CameraState.OFFLINE
        self.reason = "not started"
        self.since: datetime = clock.now()
        #: Frames per second, from an exponentially weighted average of the intervals between frames.
        self.fps = 0.0
        self._interval_ewma: float | None = None
        self.last_frame_at: datetime | None = None
        self.frames_total = 0
        #: Attempts to open the stream again after the first one, failed ones included.
        self.reconnects = 0
        self.transitions: list[Transition] = []

    def set_state(self, state: CameraState, reason: str) -> bool:
        """Move to state; returns whether that was a change. Callers must pass credential-free reasons."""
        self.reason = reason
        if state is self.state:
            return False
        now = self._clock.now()
        transition = Transition(state, now, reason)
        logger.info("camera %s: %s -> %s (%s)", self.camera_id, self.state, state, reason)
        self.state = state
        self.since = now
        self.transitions.append(transition)
        del self.transitions[: -self.MAX_TRANSITIONS]
        if self.on_change is not None:
            try:
                self.on_change(self, transition)
            except Exception:
                # A broken publisher must not take the camera's frame pump down with it.
                logger.exception("camera %s: on_change hook failed", self.camera_id)
        return True

    def record_frame(self, at: datetime) -> None:
        """Count a decoded frame; any frame means the camera is online."""
        if self.last_frame_at is not None:
            interval = (at - self.last_frame_at).total_seconds()
            # A zero interval (a manual clock, or two frames in one tick) says nothing about the rate.
            if interval > 0:
                # Average intervals, not rates: network jitter delivers frame pairs microseconds apart,
                # and a single such 1/interval would swamp a rate average.
                if self._interval_ewma is None:
                    self._interval_ewma = interval
                else:
                    self._interval_ewma += self.FPS_ALPHA * (interval - self._interval_ewma)
                self.fps = 1.0 / self._interval_ewma
        self.last_frame_at = at
        self.frames_total += 1
        if self.state is not CameraState.ONLINE:
            self.set_state(CameraState.ONLINE, "receiving frames")

    def record_reconnect(self) -> None:
        self.reconnects += 1
