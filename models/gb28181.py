"""GB/T 28181 as both roles see it: a registered device, a catalog channel, an alarm, and the listener the
SIP layer (ingest/gb28181) tells about them, which the centre implements (router/centre/gb28181.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

#: A 20-digit GB/T 28181 code: centre (8) + trade (2) + type (3) + network (1) + serial (6).
GB_ID = re.compile(r"^\d{20}$")
#: Type codes (digits 11-13 of an id) of video channels: cameras (131) and IP cameras (132).
CAMERA_TYPES = frozenset({"131", "132"})
#: The source a channel's camera record carries: the media side plays it by these two ids.
SOURCE_SCHEME = "gb28181"


def is_camera(channel_id: str) -> bool:
    return GB_ID.fullmatch(channel_id) is not None and channel_id[10:13] in CAMERA_TYPES


def alarm_topic(method: int, type_: int | None) -> str:
    """The camera-event topic an alarm travels under (models.camera_events); the site's map matches it."""
    return f"gb28181:Alarm/{method}/{'-' if type_ is None else type_}"


@dataclass(frozen=True, slots=True)
class GbDevice:
    id: str
    transport: str
    address: str
    registered_at: datetime
    expires_at: datetime
    last_keepalive_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CatalogItem:
    id: str
    name: str
    parent_id: str | None = None
    longitude: float | None = None
    latitude: float | None = None
    status: str = ""
    manufacturer: str = ""
    model: str = ""
    civil_code: str = ""


@dataclass(frozen=True, slots=True)
class Alarm:
    device_id: str
    sn: int
    priority: int
    method: int
    type: int | None
    at: datetime | None
    description: str = ""
    longitude: float | None = None
    latitude: float | None = None
    extra: dict[str, str] = field(default_factory=dict)


class GbListener(Protocol):
    async def registered(self, device: GbDevice) -> None: ...
    async def refused(self, device_id: str, address: str, reason: str) -> None: ...
    async def keepalive(self, device_id: str, at: datetime) -> None: ...
    async def offline(self, device_id: str, reason: str) -> None: ...
    async def catalog(self, device_id: str, items: list[CatalogItem]) -> None: ...
    async def alarm(self, device_id: str, alarm: Alarm) -> None: ...


@dataclass(frozen=True, slots=True)
class UpAlarm:
    """An incident as the upper platform hears it: an Alarm of the kind's method and type codes."""

    device_id: str
    priority: int
    method: int
    type: int | None
    at: datetime
    description: str
    longitude: float | None
    latitude: float | None
    alarm_id: str


class Uplink(Protocol):
    async def report(self, alarm: UpAlarm) -> bool: ...


def gb_camera_ids(camera_ids: list[str], platform_id: str) -> dict[str, str]:
    """The ids cameras have on the upper platform: their own when it is a GB/T 28181 code, else one made in
    gridwatch's domain (type 131) with the first serial no camera uses, taken in the id order."""
    used = {c for c in camera_ids if GB_ID.fullmatch(c) is not None}
    found = {c: c for c in used}
    serial = 0
    for camera_id in sorted(camera_ids):
        if camera_id in found:
            continue
        while True:
            serial += 1
            made = f"{platform_id[:10]}1310{serial:06d}"
            if made not in used:
                break
        found[camera_id] = made
    return found
