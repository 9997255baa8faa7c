"""GB/T 28181 at the centre: what the SIP layer hears becomes registry cameras, stored device state and
camera events; what the centre opens goes up to the county platform as alarms.

``GbDesk`` is the listener of the platform (ingest/gb28181/platform.py): registrations, keepalives and
refusals are stored for ``gridwatch gb status``; a catalog's video channels become cameras in the registry
(id = the channel's 20-digit id, name, position from the catalog or the site's default, the parent in
``gb_channels``), disabled for analysis until the media side plays them; an alarm becomes a
``CameraEventReport`` under the topic ``gb28181:Alarm/<method>/<type>``, which the intake looks up in the
camera-event table the site's ``gb28181.alarms`` map is part of, so an alarm opens an incident of the
mapped kind for the camera's grid, or is attached to the camera's open incident, exactly as a camera's
ONVIF event would be. ``UpperReporter`` follows the live feed and reports each incident opened, of a kind
that has codes, to the upper platform.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from models.clock import Clock
from models.config.gb28181 import Gb28181Section
from models.gb28181 import (
    SOURCE_SCHEME,
    Alarm,
    CatalogItem,
    GbDevice,
    UpAlarm,
    Uplink,
    alarm_topic,
    gb_camera_ids,
    is_camera,
)
from models.link import CameraEventReport, EventSink
from models.records import Camera, EventKind, Mount
from models.store import Store
from models.store.gb28181 import GbChannelRow, GbDeviceRow
from router.centre.feed import Broadcaster
from router.centre.registry import CameraRegistry

logger = logging.getLogger(__name__)

#: The frame size a channel's camera is recorded with until its stream says otherwise.
FRAME_SIZE = (1920, 1080)


class Service(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class GbDesk:
    def __init__(
        self,
        store: Store,
        registry: CameraRegistry,
        events: EventSink,
        clock: Clock,
        *,
        config: Gb28181Section,
    ) -> None:
        self._platform_id = config.platform_id
        self._default_lonlat = config.default_lonlat
        self._play = config.media.play
        self._store = store
        self._registry = registry
        self._events = events
        self._clock = clock
        #: Each device's camera channels, for alarms a device sends under its own id.
        self._cameras_of: dict[str, list[str]] = {}

    async def registered(self, device: GbDevice) -> None:
        await self._store.gb28181.registered(
            GbDeviceRow(
                device.id,
                device.transport,
                device.address,
                True,
                None,
                device.registered_at,
                device.expires_at,
                device.last_keepalive_at,
            )
        )

    async def refused(self, device_id: str, address: str, reason: str) -> None:
        await self._store.gb28181.refused(device_id, address, reason)

    async def keepalive(self, device_id: str, at: datetime) -> None:
        await self._store.gb28181.keepalive(device_id, at)

    async def offline(self, device_id: str, reason: str) -> None:
        await self._store.gb28181.offline(device_id, reason)

    async def catalog(self, device_id: str, items: list[CatalogItem]) -> None:
        rows: list[GbChannelRow] = []
        cameras: list[Camera] = []
        for item in items:
            lonlat = (
                (item.longitude, item.latitude)
                if item.longitude is not None and item.latitude is not None
                else self._default_lonlat
            )
            camera_id = item.id if is_camera(item.id) and lonlat is not None else None
            if is_camera(item.id) and lonlat is None:
                logger.info("gb28181: channel %s has no position; listed, not added as a camera", item.id)
            rows.append(
                GbChannelRow(
                    item.id,
                    device_id,
                    item.parent_id,
                    item.name,
                    item.longitude,
                    item.latitude,
                    item.status,
                    camera_id,
                )
            )
            if camera_id is not None and lonlat is not None:
                source = f"{SOURCE_SCHEME}://{device_id}/{item.id}"
                known = await self._store.cameras.get(camera_id)
                if known is not None:
                    # A catalog sent again (every registration) renames and re-sources the channel; what an
                    # operator set up on it (calibration, zones, rate, on/off, a surveyed mount) stays.
                    cameras.append(replace(known, name=item.name, source=source))
                    continue
                cameras.append(
                    Camera(
                        id=camera_id,
                        name=item.name,
                        source=source,
                        frame_size=FRAME_SIZE,
                        mount=Mount(lonlat),
                        # Played by INVITE (ingest/psrtp) unless the site lists channels only.
                        enabled=self._play,
                    )
                )
        await self._store.gb28181.replace_channels(device_id, rows)
        if cameras:
            await self._registry.save_many(cameras)
        self._cameras_of[device_id] = [c.id for c in cameras]
        logger.info("gb28181: device %s: %d channels, %d cameras", device_id, len(rows), len(cameras))

    async def _camera_for(self, device_id: str, alarm: Alarm) -> str | None:
        channel = await self._store.gb28181.channel(alarm.device_id)
        if channel is not None and channel.camera_id is not None:
            return channel.camera_id
        own = self._cameras_of.get(device_id) or []
        # A camera that registers itself sends alarms under its own id; an NVR under the channel's.
        if alarm.device_id == device_id and len(own) == 1:
            return own[0]
        return None

    async def alarm(self, device_id: str, alarm: Alarm) -> None:
        camera_id = await self._camera_for(device_id, alarm)
        if camera_id is None:
            logger.warning(
                "gb28181: alarm %s/%s from %s names %s, which is no camera; ignored",
                alarm.method,
                alarm.type,
                device_id,
                alarm.device_id,
            )
            return
        data = {"priority": str(alarm.priority), "device": device_id}
        if alarm.description:
            data["description"] = alarm.description
        if alarm.longitude is not None and alarm.latitude is not None:
            # Where the device says it happened (a GPS alarm's position): context; the incident is placed
            # at the camera, like any of its events.
            data["lonlat"] = f"{alarm.longitude:.6f},{alarm.latitude:.6f}"
        await self._events.publish(
            CameraEventReport(
                camera_id,
                alarm_topic(alarm.method, alarm.type),
                True,
                alarm.at or self._clock.now(),
                {"channel": alarm.device_id},
                data,
            )
        )

    async def upper_catalog(self) -> list[CatalogItem]:
        """gridwatch's cameras as the upper platform's Catalog lists them."""
        cameras = await self._registry.cameras()
        ids = gb_camera_ids([c.id for c in cameras], self._platform_id)
        return [
            CatalogItem(
                ids[camera.id],
                camera.name,
                longitude=camera.mount.lonlat[0],
                latitude=camera.mount.lonlat[1],
                status="ON" if camera.enabled else "OFF",
            )
            for camera in cameras
        ]


class UpperReporter:
    """Reports each incident opened, of a kind with codes, to the upper platform as an Alarm."""

    def __init__(
        self,
        broadcaster: Broadcaster,
        uplink: Uplink,
        codes: Mapping[EventKind, tuple[int, int | None]],
        config: Gb28181Section,
        timezone: str = "Asia/Shanghai",
    ) -> None:
        self._tz = ZoneInfo(timezone)
        self._broadcaster = broadcaster
        self._uplink = uplink
        self._codes = dict(codes)
        self._platform_id = config.platform_id
        #: Incidents reported, in order: what a test or an operator can check.
        self.reported: list[str] = []

    async def run(self) -> None:
        async with self._broadcaster.subscribe() as queue:
            while True:
                message = await queue.get()
                if message.topic != "incident.opened":
                    continue
                incident = message.incident
                code = self._codes.get(incident.kind)
                if code is None:
                    continue
                lon, lat = incident.lonlat
                alarm = UpAlarm(
                    device_id=incident.camera_id if is_camera(incident.camera_id) else self._platform_id,
                    # GB/T 28181 priority 1 is the most urgent; gridwatch's CRITICAL is 4.
                    priority=max(1, 5 - int(incident.severity)),
                    method=code[0],
                    type=code[1],
                    at=incident.opened_at.astimezone(self._tz),
                    description=f"{incident.kind.value} {incident.grid_code or incident.unit_code} "
                    f"{incident.id}",
                    longitude=lon,
                    latitude=lat,
                    alarm_id=str(incident.id),
                )
                try:
                    if await self._uplink.report(alarm):
                        self.reported.append(str(incident.id))
                except (OSError, TimeoutError) as exc:
                    logger.warning("gb28181: incident %s not reported up: %s", incident.id, exc)


@dataclass
class GbService:
    """What ``gb28181:`` runs: the platform devices register with, its desk, and the link to the county's."""

    platform: Service
    desk: GbDesk
    upper: Service | None = None
    reporter: UpperReporter | None = None
    _report: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.platform.start()
        if self.upper is not None:
            await self.upper.start()
        if self.reporter is not None:
            self._report = asyncio.create_task(self.reporter.run(), name="gb28181-reporter")

    async def stop(self) -> None:
        if self._report is not None:
            self._report.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._report
        if self.upper is not None:
            await self.upper.stop()
        await self.platform.stop()
