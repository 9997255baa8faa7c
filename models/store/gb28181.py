"""GB/T 28181 devices, their channels and refused registrations (migration 0017)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from models.store.base import Repository

_DEVICE = "id, transport, address, online, offline_reason, registered_at, expires_at, last_keepalive_at"
_CHANNEL = "id, device_id, parent_id, name, lon, lat, status, camera_id, stream"


@dataclass(frozen=True, slots=True)
class GbDeviceRow:
    id: str
    transport: str
    address: str
    online: bool
    offline_reason: str | None
    registered_at: datetime
    expires_at: datetime
    last_keepalive_at: datetime | None


@dataclass(frozen=True, slots=True)
class GbChannelRow:
    id: str
    device_id: str
    parent_id: str | None
    name: str
    lon: float | None
    lat: float | None
    status: str
    camera_id: str | None
    stream: str | None = None


@dataclass(frozen=True, slots=True)
class GbRefusal:
    device_id: str
    address: str
    reason: str
    at: datetime


class GbRepository(Repository):
    async def registered(self, device: GbDeviceRow) -> None:
        await self.pool.execute(
            f"INSERT INTO gb_devices ({_DEVICE}) VALUES ($1,$2,$3,true,NULL,$4,$5,$6)"
            " ON CONFLICT (id) DO UPDATE SET transport = EXCLUDED.transport, address = EXCLUDED.address,"
            " online = true, offline_reason = NULL, registered_at = EXCLUDED.registered_at,"
            " expires_at = EXCLUDED.expires_at, updated_at = now()",
            device.id,
            device.transport,
            device.address,
            device.registered_at,
            device.expires_at,
            device.last_keepalive_at,
        )

    async def keepalive(self, device_id: str, at: datetime) -> None:
        await self.pool.execute(
            "UPDATE gb_devices SET last_keepalive_at = $2, online = true, offline_reason = NULL,"
            " updated_at = now() WHERE id = $1",
            device_id,
            at,
        )

    async def offline(self, device_id: str, reason: str) -> None:
        await self.pool.execute(
            "UPDATE gb_devices SET online = false, offline_reason = $2, updated_at = now() WHERE id = $1",
            device_id,
            reason,
        )

    async def refused(self, device_id: str, address: str, reason: str) -> None:
        await self.pool.execute(
            "INSERT INTO gb_refusals (device_id, address, reason) VALUES ($1, $2, $3)",
            device_id,
            address,
            reason,
        )

    async def replace_channels(self, device_id: str, channels: Sequence[GbChannelRow]) -> None:
        """The device's catalog as it answered last: channels it no longer lists are forgotten."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM gb_channels WHERE device_id = $1", device_id)
            await conn.executemany(
                "INSERT INTO gb_channels (id, device_id, parent_id, name, lon, lat, status, camera_id)"
                " VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (id) DO UPDATE SET"
                " device_id = EXCLUDED.device_id, parent_id = EXCLUDED.parent_id, name = EXCLUDED.name,"
                " lon = EXCLUDED.lon, lat = EXCLUDED.lat, status = EXCLUDED.status,"
                " camera_id = EXCLUDED.camera_id,"
                " updated_at = now()",
                [
                    (c.id, device_id, c.parent_id, c.name, c.lon, c.lat, c.status, c.camera_id)
                    for c in channels
                ],
            )

    async def devices(self) -> list[GbDeviceRow]:
        rows = await self.pool.fetch(f"SELECT {_DEVICE} FROM gb_devices ORDER BY id")
        return [GbDeviceRow(**dict(r)) for r in rows]

    async def channels(self) -> list[GbChannelRow]:
        rows = await self.pool.fetch(f"SELECT {_CHANNEL} FROM gb_channels ORDER BY id")
        return [GbChannelRow(**dict(r)) for r in rows]

    async def channel(self, channel_id: str) -> GbChannelRow | None:
        row = await self.pool.fetchrow(
            f"SELECT {_CHANNEL} FROM gb_channels WHERE id = $1",
            channel_id,
        )
        return GbChannelRow(**dict(row)) if row is not None else None

    async def refusals(self, limit: int = 20) -> list[GbRefusal]:
        rows = await self.pool.fetch(
            "SELECT device_id, address, reason, at FROM gb_refusals ORDER BY id DESC LIMIT $1", limit
        )
        return [GbRefusal(**dict(r)) for r in rows]
