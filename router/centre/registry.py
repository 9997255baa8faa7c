"""The camera registry as a use case: a saved or removed camera reaches the store, the router and the
analysis role, in that order, so the first event of a new camera is already routable."""

from __future__ import annotations

import logging

from models.link import CommandSink, RunCamera, StopCamera
from models.records import Camera
from models.store import Store
from router.centre.routing import Routing

logger = logging.getLogger(__name__)


class CameraRegistry:
    def __init__(self, store: Store, routing: Routing, analysis: CommandSink) -> None:
        self._store = store
        self._routing = routing
        self._analysis = analysis

    async def cameras(self) -> list[Camera]:
        return await self._store.cameras.load()

    async def get(self, camera_id: str) -> Camera | None:
        return await self._store.cameras.get(camera_id)

    async def save(self, camera: Camera) -> None:
        """Create or replace a camera; its analysis restarts with the new record, the others run on."""
        await self._store.cameras.upsert([camera])
        # The router's homographies, coverage and camera table come from the store; rebuilding them is
        # cheap next to a camera's connect time.
        await self._routing.load()
        # Routing's copy: its crowd zones carry their grid kind's thresholds (router/crowd_thresholds.py).
        await self._analysis.send(RunCamera(self._routing.cameras.get(camera.id, camera)))

    async def save_many(self, cameras: list[Camera]) -> None:
        """Create or replace several cameras at once (a GB/T 28181 catalog): one routing reload for all."""
        await self._store.cameras.upsert(cameras)
        await self._routing.load()
        for camera in cameras:
            # Routing's copy: its crowd zones carry their grid kind's thresholds (router/crowd_thresholds.py).
            await self._analysis.send(RunCamera(self._routing.cameras.get(camera.id, camera)))

    async def remove(self, camera_id: str) -> bool:
        """Stop and forget a camera; False when there is none. Its events and incidents stay."""
        if not await self._store.cameras.delete(camera_id):
            return False
        await self._analysis.send(StopCamera(camera_id))
        await self._routing.load()
        return True
