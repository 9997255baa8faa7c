"""Run the detector off the event loop, batching frames from many cameras into one call."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np

from models.records import Detection

logger = logging.getLogger(__name__)


class BatchDetector(Protocol):
    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]: ...


class DetectionBatcher:
    """Queue detection requests; one worker thread serves them in batches of up to ``max_batch``.

    One thread, because inference back-ends already use every core and are not all thread-safe; the
    event loop only ever awaits futures, so the API stays responsive while a batch runs.
    """

    def __init__(self, detector: BatchDetector, *, max_batch: int = 8) -> None:
        self._detector = detector
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[np.ndarray, asyncio.Future[list[Detection]]]] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="detector")
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.frames = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="detection-batcher")

    async def detect(self, image: np.ndarray) -> list[Detection]:
        self.start()
        future: asyncio.Future[list[Detection]] = asyncio.get_running_loop().create_future()
        await self._queue.put((image, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            images = [image for image, _ in batch]
            try:
                results = await loop.run_in_executor(self._executor, self._detector.detect, images)
            except Exception:  # one bad frame must not fail every camera of its batch: retry one by one
                logger.exception(
                    "detector failed on a batch of %d frames; retrying them one at a time", len(images)
                )
                await self._one_by_one(batch)
                continue
            self.batches += 1
            self.frames += len(images)
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def _one_by_one(self, batch: list[tuple[np.ndarray, asyncio.Future[list[Detection]]]]) -> None:
        loop = asyncio.get_running_loop()
        for image, future in batch:
            try:
                [result] = await loop.run_in_executor(self._executor, self._detector.detect, [image])
            except Exception as exc:  # this frame's caller (its camera) gets the error, the others go on
                if not future.done():
                    future.set_exception(exc)
                continue
            self.batches += 1
            self.frames += 1
            if not future.done():
                future.set_result(result)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._executor.shutdown(wait=False, cancel_futures=True)
