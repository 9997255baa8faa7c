"""Plain values an ONVIF onboarding produces: what a device is, what it streams, what went wrong."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Credentials:
    """Per-camera login. ``password`` is held in memory only; it never goes to logs or storage."""

    user: str
    password: str
    #: The environment variable the password came from; stored in stream URLs as ${NAME}.
    password_env: str | None = None

    def __repr__(self) -> str:
        return f"Credentials(user={self.user!r}, password=***, password_env={self.password_env!r})"


@dataclass(frozen=True, slots=True)
class DeviceTarget:
    """One device to onboard: where its device service is and what to call it."""

    host: str
    port: int = 80
    camera_id: str | None = None
    name: str | None = None
    lonlat: tuple[float, float] | None = None
    credentials: Credentials | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    manufacturer: str
    model: str
    firmware: str
    serial: str
    hardware_id: str


@dataclass(frozen=True, slots=True)
class MediaProfile:
    token: str
    name: str
    encoding: str | None
    width: int | None
    height: int | None
    fps: float | None
    #: Frames between keyframes (H.264/H.265 GovLength), when the device says.
    gop: int | None
    stream_uri: str | None
    snapshot_uri: str | None

    @property
    def resolution(self) -> str:
        return f"{self.width}×{self.height}" if self.width and self.height else "?"

    @property
    def pixels(self) -> int:
        return (self.width or 0) * (self.height or 0)


@dataclass(frozen=True, slots=True)
class PtzPreset:
    token: str
    name: str


class FailureKind(enum.StrEnum):
    LOGIN_FAILED = "login_failed"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    NOT_ONVIF = "not_onvif"
    REFUSED = "refused"  # the target is outside the configured camera subnets; never contacted
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Failure:
    kind: FailureKind
    step: str
    reason: str

    def __str__(self) -> str:
        return f"{self.kind.value} at {self.step}: {self.reason}"


@dataclass(frozen=True, slots=True)
class DeviceReport:
    """Everything onboarding learnt about one device; ``failure`` set when it stopped early."""

    target: DeviceTarget
    checked_at: datetime
    clock_skew_s: float | None = None
    info: DeviceInfo | None = None
    services: tuple[str, ...] = ()
    profiles: tuple[MediaProfile, ...] = ()
    presets: tuple[PtzPreset, ...] = ()
    has_ptz: bool = False
    has_events: bool = False
    failure: Failure | None = None
    #: Steps that failed without stopping the onboarding (no snapshot URI, PTZ refused, …).
    warnings: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.failure is None and bool(self.profiles)

    @property
    def main(self) -> MediaProfile | None:
        """The evidence stream: the largest picture."""
        streams = [p for p in self.profiles if p.stream_uri]
        return max(streams, key=lambda p: p.pixels) if streams else None

    @property
    def sub(self) -> MediaProfile | None:
        """The detection stream: the smallest picture (the main one when there is only one)."""
        streams = [p for p in self.profiles if p.stream_uri]
        return min(streams, key=lambda p: p.pixels) if streams else None
