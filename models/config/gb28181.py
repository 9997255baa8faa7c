"""``gb28181:``: gridwatch as the higher platform of the county's GB/T 28181 devices and lower platforms,
what their alarms mean, and optionally the county platform above it (ingest/gb28181)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from models.camera_events import ATTACH, IGNORE, CameraEventRule, rule
from models.config.base import ConfigModel, Latitude, Longitude
from models.records import EventKind
from models.secrets import is_placeholder

GbId = Annotated[str, Field(pattern=r"^\d{20}$", description="A 20-digit GB/T 28181 code.")]
Domain = Annotated[str, Field(pattern=r"^\d{10}$", description="A 10-digit SIP domain (区域编码 + 00…).")]
Transport = Literal["udp", "tcp"]
TRANSPORTS: tuple[Transport, ...] = ("udp", "tcp")
ALARM_KINDS = (*(kind.value for kind in EventKind), ATTACH, IGNORE)


def _placeholder(value: str) -> str:
    if not is_placeholder(value):
        raise ValueError(
            "holds an inline password; write ${GB_PASSWORD} and set GB_PASSWORD in the environment"
        )
    return value


class GbAlarmRule(ConfigModel):
    """An alarm's method and type (GB/T 28181 A.2.5.3) and what gridwatch makes of it."""

    method: int = Field(
        ge=1,
        le=7,
        title="Alarm method",
        description="1 phone, 2 device, 3 SMS, 4 GPS, 5 video, 6 device fault, 7 other.",
    )
    type: int | None = Field(
        default=None,
        ge=0,
        title="Alarm type",
        description="The type under that method (video: 2 motion, 5 tripwire, 6 intrusion, 10 density…); "
        "unset: any type.",
    )
    kind: str = Field(
        title="Kind",
        description="The event kind it opens (crowd, fire…), 'attach' to add it to the camera's open "
        "incident, or 'ignore'.",
    )

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in ALARM_KINDS:
            raise ValueError(f"unknown kind {value!r}; use one of {', '.join(ALARM_KINDS)}")
        return value

    @property
    def topic(self) -> str:
        """The camera-event topic the alarm travels under (models.camera_events)."""
        return f"gb28181:Alarm/{self.method}/{'*' if self.type is None else self.type}"


class GbUpperSection(ConfigModel):
    """The county's platform that gridwatch registers with as a lower platform."""

    id: GbId = Field(title="Upper platform id")
    domain: Domain = Field(title="Upper platform domain")
    host: str = Field(min_length=1, title="Host", description="Address of the upper platform's SIP service.")
    port: int = Field(default=5060, ge=1, le=65535, title="Port")
    transport: Literal["udp", "tcp"] = Field(default="udp", title="Transport")
    password: str = Field(title="Password", description="Only as ${ENV_VAR}, the variable holding it.")
    local_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        title="Local port",
        description="The SIP port gridwatch registers from; 0: any free one.",
    )
    expires_s: int = Field(default=3600, ge=60, le=86400, title="Registration lifetime (s)")
    keepalive_s: float = Field(default=60.0, gt=0, le=3600, title="Keepalive interval (s)")
    alarm_request: Literal["MESSAGE", "NOTIFY"] = Field(
        default="MESSAGE",
        title="Alarm request",
        description="The SIP request incidents go up in: MESSAGE (GB/T 28181 §9.4 alarm notification) or "
        "NOTIFY (for platforms that take alarms as event notifications).",
    )
    share_catalog: bool = Field(
        default=True,
        title="Share catalog",
        description="Answer the upper platform's Catalog query with gridwatch's cameras.",
    )

    @field_validator("password")
    @classmethod
    def _password(cls, value: str) -> str:
        return _placeholder(value)


class GbMediaSection(ConfigModel):
    """How channels are played (INVITE for real-time play, PS over RTP): where the video comes in."""

    play: bool = Field(
        default=True,
        title="Play channels",
        description="Analyse the catalog's video channels (INVITE each for real-time play); "
        "false: list them only.",
    )
    ports: tuple[int, int] = Field(
        default=(30000, 30499),
        title="RTP port range",
        description="First and last port the channels' RTP may arrive on (one per playing channel).",
    )
    ip: str | None = Field(
        default=None,
        title="Media address",
        description="The address devices send video to; unset: the SIP service's advertised address.",
    )
    transport: Literal["udp", "tcp-passive", "tcp-active"] = Field(
        default="udp",
        title="RTP transport",
        description="udp; tcp-passive: devices connect to us; tcp-active: we connect to the device.",
    )

    @field_validator("ports")
    @classmethod
    def _range(cls, value: tuple[int, int]) -> tuple[int, int]:
        first, last = value
        if not 1024 <= first <= last <= 65535:
            raise ValueError(
                f"ports must be [first, last], 1024 <= first <= last <= 65535, not {list(value)}"
            )
        return value


class Gb28181Section(ConfigModel):
    platform_id: GbId = Field(title="Platform id", description="gridwatch's own 20-digit id (type 200).")
    domain: Domain = Field(
        title="Domain", description="The SIP domain, the id's first 10 digits by convention."
    )
    realm: str | None = Field(default=None, title="Realm", description="Digest realm; unset: the domain.")
    host: str = Field(default="0.0.0.0", title="Listen address")
    advertise: str | None = Field(
        default=None,
        title="Advertised address",
        description="The address devices reach gridwatch at; unset: the listen address.",
    )
    port: int = Field(
        default=5060, ge=0, le=65535, title="SIP port", description="UDP and TCP; 0: any free one."
    )
    transports: list[Transport] = Field(default_factory=lambda: list(TRANSPORTS), min_length=1)
    password: str = Field(title="Device password", description="Only as ${ENV_VAR}: the password devices "
                          "register with.")  # fmt: skip
    device_prefixes: list[Annotated[str, Field(pattern=r"^\d{1,20}$")]] = Field(
        default_factory=list,
        title="Device id prefixes",
        description="Only devices whose id starts with one of these may register; empty: the domain's first "
        "8 digits (the centre code).",
    )
    keepalive_s: float = Field(default=60.0, gt=0, le=3600, title="Keepalive interval (s)")
    offline_after_missed: int = Field(default=3, ge=1, le=100, title="Missed keepalives before offline")
    default_lonlat: tuple[Longitude, Latitude] | None = Field(
        default=None,
        title="Default position",
        description="[lon, lat] for channels whose catalog entry has none; unset: such channels are listed "
        "but not added as cameras.",
    )
    alarms: list[GbAlarmRule] = Field(
        default_factory=lambda: [GbAlarmRule(method=5, type=10, kind="crowd")],
        title="Alarm map",
        description="What device alarms mean, first match wins; alarms that match none are logged once "
        "and answered 200.",
    )
    upper: GbUpperSection | None = Field(default=None, title="Upper platform")
    media: GbMediaSection = Field(default_factory=GbMediaSection, title="Media")

    @field_validator("password")
    @classmethod
    def _password(cls, value: str) -> str:
        return _placeholder(value)

    def alarm_codes(self) -> dict[EventKind, tuple[int, int | None]]:
        """What each kind is reported up as: the first alarm rule that maps to it, read backwards."""
        codes: dict[EventKind, tuple[int, int | None]] = {}
        for entry in self.alarms:
            if entry.kind not in (ATTACH, IGNORE):
                codes.setdefault(EventKind(entry.kind), (entry.method, entry.type))
        return codes

    def camera_event_rules(self) -> list[CameraEventRule]:
        """The alarm map as camera-event rules (models.camera_events), which the intake looks alarms up in."""
        return [rule(r.topic, r.kind) for r in self.alarms]

    @model_validator(mode="after")
    def _prefix_default(self) -> Gb28181Section:
        if not self.device_prefixes:
            object.__setattr__(self, "device_prefixes", [self.domain[:8]])
        return self
