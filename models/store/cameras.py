"""The camera registry: each camera with its mount, calibration and zones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from models.records import (
    DEFAULT_LINE_LABELS,
    CalibrationPoint,
    Camera,
    LineDirection,
    Mount,
    OnvifEndpoint,
    StaticMassSettings,
    Zone,
    ZoneKind,
)
from models.store.base import Repository, calibration_json, mount_json, zones_json


class CameraRepository(Repository):
    async def upsert(self, cameras: Sequence[Camera]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                "INSERT INTO cameras (id, name, source, frame_w, frame_h, mount, calibration, zones,"
                " analysis_fps, enabled, onvif) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"
                " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, source = EXCLUDED.source,"
                " frame_w = EXCLUDED.frame_w, frame_h = EXCLUDED.frame_h, mount = EXCLUDED.mount,"
                " calibration = EXCLUDED.calibration, zones = EXCLUDED.zones,"
                " analysis_fps = EXCLUDED.analysis_fps, enabled = EXCLUDED.enabled, onvif = EXCLUDED.onvif,"
                " updated_at = now()",
                [_camera_row(c) for c in cameras],
            )

    async def load(self) -> list[Camera]:
        rows = await self.pool.fetch("SELECT * FROM cameras ORDER BY id")
        return [_camera_from_row(r) for r in rows]

    async def get(self, camera_id: str) -> Camera | None:
        row = await self.pool.fetchrow("SELECT * FROM cameras WHERE id = $1", camera_id)
        return _camera_from_row(row) if row is not None else None

    async def delete(self, camera_id: str) -> bool:
        """Remove the camera row; returns whether there was one. History keeps its camera_id as text."""
        status: str = await self.pool.execute("DELETE FROM cameras WHERE id = $1", camera_id)
        return status.endswith(" 1")


def _camera_row(c: Camera) -> tuple[Any, ...]:
    return (
        c.id,
        c.name,
        c.source,
        c.frame_size[0],
        c.frame_size[1],
        mount_json(c.mount),
        calibration_json(c.calibration),
        zones_json(c.zones),
        c.analysis_fps,
        c.enabled,
        onvif_json(c.onvif),
    )


def onvif_json(endpoint: OnvifEndpoint | None) -> dict[str, Any] | None:
    """The endpoint as stored; the password is its ${VAR} placeholder, never the secret."""
    if endpoint is None:
        return None
    return {
        "host": endpoint.host,
        "port": endpoint.port,
        "user": endpoint.user,
        "password": endpoint.password,
        "events": endpoint.events,
    }


def _onvif_from_json(value: Any) -> OnvifEndpoint | None:
    if value is None:
        return None
    return OnvifEndpoint(value["host"], value["port"], value["user"], value["password"], value["events"])


def _camera_from_row(r: Any) -> Camera:
    mount = r["mount"]
    return Camera(
        id=r["id"],
        name=r["name"],
        source=r["source"],
        frame_size=(r["frame_w"], r["frame_h"]),
        mount=Mount(tuple(mount["lonlat"]), mount.get("height_m"), mount.get("heading_deg")),
        calibration=tuple(CalibrationPoint(tuple(p["px"]), tuple(p["lonlat"])) for p in r["calibration"]),
        zones=tuple(
            Zone(
                name=z["name"],
                kind=ZoneKind(z["kind"]),
                polygon_px=tuple(tuple(p) for p in z["polygon_px"]),
                min_persons=z["min_persons"],
                min_seconds=z["min_seconds"],
                cooldown_seconds=z["cooldown_seconds"],
                # Rows stored before line zones existed lack these keys; the defaults are what they meant.
                direction=LineDirection(z.get("direction", LineDirection.BOTH)),
                labels=tuple(z.get("labels", DEFAULT_LINE_LABELS)),
                static_mass=_static_mass(z.get("static_mass")),
                min_density_per_m2=z.get("min_density_per_m2"),
            )
            for z in r["zones"]
        ),
        analysis_fps=r["analysis_fps"],
        enabled=r["enabled"],
        onvif=_onvif_from_json(r["onvif"]),
    )


def _static_mass(raw: dict[str, Any] | None) -> StaticMassSettings | None:
    if raw is None:
        return None
    return StaticMassSettings(**{**raw, "prohibited_hours": tuple(raw.get("prohibited_hours", ()))})
