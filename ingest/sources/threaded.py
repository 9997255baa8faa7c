"""The machinery shared by sources whose decoder blocks: a worker thread feeding the event loop.

The worker only decodes and posts; everything observable (``latest``, ``health``, the queue) is
updated on the event loop thread through call_soon_threadsafe, so consumers never need locks.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable
from typing import Any

from ingest.frames import Frame, Image
from ingest.handoff import DropOldestQueue
from ingest.health import CameraHealth, CameraState
from models.clock import Clock

logger = logging.getLogger(__name__)


class ThreadedSource(ABC):
    def __init__(
        self,
        camera_id: str,
        clock: Clock,
        *,
        queue_size: int = 2,
        stall_after_s: float | None = None,
    ) -> None:
        if stall_after_s is not None and stall_after_s <= 0:
            raise ValueError(f"stall_after_s must be positive, got {stall_after_s}")
        self.camera_id = camera_id
        self.health = CameraHealth(camera_id, clock)
        self.latest: Frame | None = None
        self._clock = clock
        self._stall_after_s = stall_after_s
        self._queue: DropOldestQueue[Frame] = DropOldestQueue(queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._next_index = 0  # worker thread only
        self._last_frame_monotonic = 0.0  # loop thread only

    @property
    def dropped(self) -> int:
        """Frames decoded but pushed out of the queue before a consumer took them."""
        return self._queue.dropped

    @property
    def closed(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        """Start decoding (frames() does this on first use). Call on the event loop."""
        if self._thread is not None:
            return
        if self._stop.is_set():
            raise RuntimeError(f"camera {self.camera_id}: source is closed")
        self._loop = asyncio.get_running_loop()
        self.health.set_state(CameraState.CONNECTING, "starting")
        self._thread = threading.Thread(target=self._work, name=f"ingest-{self.camera_id}", daemon=True)
        self._thread.start()
        if self._stall_after_s is not None:
            self._watchdog = asyncio.create_task(self._watch_stalls(self._stall_after_s))

    async def frames(self) -> AsyncGenerator[Frame, None]:
        self.start()
        while (frame := await self._queue.get()) is not None:
            yield frame

    async def aclose(self) -> None:
        """Stop the worker and wait for it; a blocked network read may hold this up to its timeout."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.wait([self._watchdog])
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        self._queue.close()
        self.health.set_state(CameraState.OFFLINE, "closed")

    # -- worker thread side -------------------------------------------------------------------

    @abstractmethod
    def _run(self) -> None:
        """Decode until self._stop is set (or the input ends), calling _emit per frame."""

    def _describe_crash(self, text: str) -> str:
        """Make worker-crash text safe to log; sources whose inputs carry secrets override this."""
        return text

    def _work(self) -> None:
        try:
            self._run()
        except Exception as exc:
            # Formatted by hand so that subclasses can strip credentials out of the traceback.
            text = self._describe_crash("".join(traceback.format_exception(exc)))
            logger.error("camera %s: frame worker crashed:\n%s", self.camera_id, text)
            reason = self._describe_crash(f"frame worker crashed: {type(exc).__name__}: {exc}")
            self._post_state(CameraState.OFFLINE, reason)
        self._post(self._queue.close)

    def _emit(self, image: Image, keyframe: bool) -> None:
        frame = Frame(self.camera_id, self._next_index, self._clock.now(), image, keyframe)
        self._next_index += 1
        self._post(self._deliver, frame)

    def _post_state(self, state: CameraState, reason: str) -> None:
        self._post(self.health.set_state, state, reason)

    def _post_reconnect(self) -> None:
        self._post(self.health.record_reconnect)

    def _post(self, callback: Callable[..., Any], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._unless_closed, callback, args)
        except RuntimeError:
            # The loop is closed: nobody is left to tell, and the stop flag ends this worker soon.
            self._stop.set()

    # -- event loop side ----------------------------------------------------------------------

    def _unless_closed(self, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        # Posts still in flight when aclose() ran must not overwrite its final "closed" state.
        if not self._stop.is_set():
            callback(*args)

    def _deliver(self, frame: Frame) -> None:
        self.latest = frame
        self._last_frame_monotonic = time.monotonic()
        self.health.record_frame(frame.captured_at)
        self._queue.put(frame)

    async def _watch_stalls(self, after_s: float) -> None:
        # Runs on the loop because the worker may be stuck inside a blocking read and cannot notice.
        # Elapsed time is measured on the monotonic clock: it bounds real network waits, not domain time.
        period = min(0.25, after_s / 4)
        while True:
            await asyncio.sleep(period)
            if self.health.state is not CameraState.ONLINE:
                continue
            silent_s = time.monotonic() - self._last_frame_monotonic
            if silent_s > after_s:
                self.health.set_state(CameraState.STALLED, f"no frame for {silent_s:.1f} s")
