"""``cameras:``: where each camera hangs, how its image maps to the ground, and the zones it watches."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator

from models.config.base import ConfigModel, Latitude, Longitude
from models.config.camera_events import OnvifConfig
from models.config.zones import ZoneConfig, to_zone
from models.records import CalibrationPoint, Camera, Mount
from models.secrets import is_placeholder


class MountConfig(ConfigModel):
    lonlat: tuple[Longitude, Latitude] = Field(
        title="Position", description="Where the camera hangs, WGS84 [lon, lat]."
    )
    height_m: float | None = Field(default=None, gt=0, title="Height", description="Metres above ground.")
    heading_deg: float | None = Field(
        default=None, ge=0, lt=360, title="Heading", description="Compass bearing of the view, 0 = north."
    )


class CalibrationPointConfig(ConfigModel):
    px: tuple[Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)]] = Field(
        title="Pixel", description="[x, y] of a ground point in the image, origin top-left."
    )
    lonlat: tuple[Longitude, Latitude] = Field(
        title="Ground position", description="The same point, [lon, lat]."
    )


def _outside(point: tuple[float, float], size: tuple[int, int]) -> bool:
    return not (0 <= point[0] <= size[0] and 0 <= point[1] <= size[1])


class CameraConfig(ConfigModel):
    id: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        title="Camera id",
        description="Stable identifier: letters, digits, '-', '_', '.'; at most 64 characters.",
    )
    name: str = Field(min_length=1, title="Name", description="What operators call the camera.")
    source: str = Field(
        min_length=1,
        title="Source",
        description="rtsp(s):// URL (a password only as ${ENV_VAR}), or a video file path for demos.",
    )
    # frame_size comes before calibration and zones: their validators read it to check bounds.
    frame_size: tuple[Annotated[int, Field(gt=0)], Annotated[int, Field(gt=0)]] = Field(
        title="Frame size", description="[width, height] in pixels of the analysed stream."
    )
    mount: MountConfig = Field(title="Mount", description="Where the camera is and where it looks.")
    calibration: list[CalibrationPointConfig] = Field(
        default_factory=list,
        title="Calibration",
        description="4 or more ground points seen in the image; without them events are placed at the mount.",
    )
    zones: list[ZoneConfig] = Field(
        title="Zones",
        description="Image areas watched by the crowd, occupation and fire rules, and lines watched by the "
        "line rule; [] for none.",
    )
    analysis_fps: float = Field(
        default=2.0,
        gt=0,
        le=30,
        title="Analysis rate",
        description="Frames per second given to the detector.",
    )
    enabled: bool = Field(
        default=True, title="Enabled", description="A disabled camera is kept but not read."
    )
    fire_every_seconds: float | None = Field(
        default=None,
        gt=0,
        title="Fire check interval",
        description="Seconds between the fire model's looks at this camera, when it has a fire zone; "
        "unset: detectors.fire.every_seconds.",
    )
    onvif: OnvifConfig | None = Field(
        default=None,
        title="ONVIF",
        description="The camera's ONVIF device service: gridwatch subscribes to its events (tamper, video "
        "loss, analytics) when it offers them.",
    )

    @field_validator("source")
    @classmethod
    def _rtsp_or_path(cls, value: str, info: ValidationInfo) -> str:
        # Interchange files (cameras.json) describe the source in words; only site configs are checked.
        if isinstance(info.context, Mapping) and info.context.get("free_text_source"):
            return value
        if "://" not in value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("rtsp", "rtsps"):
            raise ValueError(
                f"must be an rtsp:// or rtsps:// URL or a file path, got scheme {parts.scheme!r}"
            )
        userinfo = parts.netloc.rpartition("@")[0]
        password = userinfo.partition(":")[2]
        if password and not is_placeholder(password):
            raise ValueError(
                "holds an inline password; write rtsp://user:${CAM_PASSWORD}@host/... "
                "and set CAM_PASSWORD in the environment"
            )
        return value

    @field_validator("calibration")
    @classmethod
    def _calibration_in_frame(
        cls, value: list[CalibrationPointConfig], info: ValidationInfo
    ) -> list[CalibrationPointConfig]:
        size = info.data.get("frame_size")
        if size is not None:
            outside = [f"{i} {p.px}" for i, p in enumerate(value) if _outside(p.px, size)]
            if outside:
                raise ValueError(f"points outside the {size[0]}×{size[1]} frame: {', '.join(outside)}")
        return value

    @field_validator("zones")
    @classmethod
    def _zones_in_frame(cls, value: list[ZoneConfig], info: ValidationInfo) -> list[ZoneConfig]:
        faults: list[str] = []
        seen: set[str] = set()
        size = info.data.get("frame_size")
        for zone in value:
            if zone.name in seen:
                faults.append(f"zone name {zone.name!r} is used twice")
            seen.add(zone.name)
            if size is not None:
                outside = [f"{i} {p}" for i, p in enumerate(zone.polygon_px) if _outside(p, size)]
                if outside:
                    faults.append(
                        f"zone {zone.name!r} has vertices outside the {size[0]}×{size[1]} frame: "
                        + ", ".join(outside)
                    )
        if faults:
            raise ValueError("; ".join(faults))
        return value

    @field_validator("onvif")
    @classmethod
    def _onvif_reachable(cls, value: OnvifConfig | None, info: ValidationInfo) -> OnvifConfig | None:
        source = info.data.get("source")
        if value is not None and source is not None and value.endpoint(source) is None:
            raise ValueError(
                "has no host, and the source is not an rtsp:// URL to take it from; set onvif.host"
            )
        return value

    def to_camera(self) -> Camera:
        """The record every package speaks; a ${VAR} in the source stays unexpanded (see expand_source)."""
        return Camera(
            id=self.id,
            name=self.name,
            source=self.source,
            frame_size=self.frame_size,
            mount=Mount(self.mount.lonlat, self.mount.height_m, self.mount.heading_deg),
            calibration=tuple(CalibrationPoint(p.px, p.lonlat) for p in self.calibration),
            zones=tuple(to_zone(z) for z in self.zones),
            analysis_fps=self.analysis_fps,
            enabled=self.enabled,
            onvif=self.onvif.endpoint(self.source) if self.onvif is not None else None,
        )
