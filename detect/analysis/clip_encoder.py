"""Clips are encoded on one low-priority thread, off the cameras' analysis, and reported to the centre."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from detect.analysis.clips import ClipJob
from models.link import ClipReport, EventSink
from models.records import EvidenceBlob

logger = logging.getLogger(__name__)

#: Clips waiting for the clip thread; past this (the thread cannot keep up) new clips are dropped, logged.
MAX_CLIP_BACKLOG = 64


def _lower_priority() -> None:
    """Make the calling thread yield the CPU to analysis (Linux: a thread id is a process id here)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


class ClipEncoder:
    """One thread for every camera's clips: a burst of clips (every camera crowding at once) takes at most
    one core, and only what decoding and detection leave idle."""

    def __init__(self, sink: EventSink, *, max_backlog: int = MAX_CLIP_BACKLOG) -> None:
        self._sink = sink
        self._max_backlog = max_backlog
        self._pool: ThreadPoolExecutor | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def backlog(self) -> int:
        """Clips handed over and not yet encoded and reported."""
        return len(self._tasks)

    def submit(self, job: ClipJob) -> None:
        """Encode and report the job's clips in the background; returns at once."""
        if len(self._tasks) >= self._max_backlog:
            logger.warning("clip of event %s dropped: %d clips waiting to be encoded", job.events[0][0],
                           len(self._tasks))  # fmt: skip
            return
        task = asyncio.create_task(self._encode_and_report(job), name=f"clip:{job.events[0][0]}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Return once every clip handed over so far is encoded and reported (or dropped)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self) -> None:
        """Settle what was handed over, then let the thread go."""
        await self.settle()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    async def _encode_and_report(self, job: ClipJob) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="clips", initializer=_lower_priority)
        clips = await asyncio.get_running_loop().run_in_executor(self._pool, job.encode)
        for clip in clips:
            blob = EvidenceBlob("clip", clip.media_type, clip.sha256, clip.data)
            try:
                await self._sink.publish(ClipReport(clip.event_id, blob))
            except Exception as exc:  # the event and its snapshots stand without the clip
                logger.warning("clip of event %s not reported: %s", clip.event_id, exc)
