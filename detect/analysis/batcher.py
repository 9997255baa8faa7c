"""Run a detector off the event loop, batching frames from many cameras into one call."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from detect.port import Detector
from models.batching import MicroBatcher
from models.records import Detection


class DetectionBatcher:
    """Every camera's frames for one detector, served in batches of up to ``max_batch`` on one thread.

    One thread, because inference back-ends already use every core and are not all thread-safe; the
    event loop only ever awaits futures, so the API stays responsive while a batch runs.
    """

    def __init__(self, detector: Detector, *, name: str = "person", max_batch: int = 8) -> None:
        self._detector = detector
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="detector")
        self._batches: MicroBatcher[np.ndarray, list[Detection]] = MicroBatcher(
            self._detect_batch, self._detect_one, name=f"detector:{name}", max_batch=max_batch
        )

    @property
    def detector(self) -> Detector:
        return self._detector

    @property
    def batches(self) -> int:
        return self._batches.batches

    @property
    def frames(self) -> int:
        return self._batches.items

    def start(self) -> None:
        self._batches.start()

    async def detect(self, image: np.ndarray) -> list[Detection]:
        return await self._batches.submit(image)

    async def aclose(self) -> None:
        await self._batches.aclose()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _detect_batch(self, images: list[np.ndarray]) -> list[list[Detection]]:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._detector.detect, images)

    async def _detect_one(self, image: np.ndarray) -> list[Detection]:
        [result] = await self._detect_batch([image])
        return result
