"""The whole site file: one county's site, cameras, detectors, clips, notification targets and imports."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import AliasChoices, Field, ValidationInfo, field_validator

from models.config.base import ConfigModel
from models.config.camera_events import CameraEventRuleConfig
from models.config.cameras import CameraConfig
from models.config.clips import ClipsSection
from models.config.detectors import DetectorsSection
from models.config.gb28181 import Gb28181Section
from models.config.link import LinkSection
from models.config.metrics import MetricsSection
from models.config.mqtt import MqttSection
from models.config.notifications import NotificationTarget
from models.config.policies import PoliciesSection
from models.config.retention import RetentionSection
from models.config.sign_in import SignInSection
from models.config.site import SiteSection
from models.config.townships import TownshipConfig, township_problems


class SiteConfig(ConfigModel):
    site: SiteSection = Field(title="Site", description="The county or district this installation serves.")
    cameras: list[CameraConfig] = Field(
        default_factory=list, title="Cameras", description="Cameras to analyse."
    )
    detectors: DetectorsSection = Field(
        default_factory=DetectorsSection,
        # Site files written before the section was renamed say models:. Taking it as a second name
        # keeps them loading, and pydantic reports their problems under the name the file used.
        validation_alias=AliasChoices("detectors", "models"),
        title="Detectors",
        description="Which detector weights to run: person (people and vehicles) and fire (flames, smoke).",
    )
    notifications: list[NotificationTarget] = Field(
        default_factory=list, title="Notifications", description="Where new incidents are announced."
    )
    clips: ClipsSection = Field(
        default_factory=ClipsSection,
        title="Event clips",
        description="A short clip of the analysed frames around each event's start.",
    )
    policies: PoliciesSection = Field(
        default_factory=PoliciesSection,
        title="Policies",
        description="Triage, deadlines, filing, offline tolerance, dedup cell and snap distance.",
    )
    grids_file: Path | None = Field(
        default=None, title="Grids file", description="GeoJSON of the grids, relative to this file."
    )
    roster_file: Path | None = Field(
        default=None, title="Roster file", description="Duty roster CSV, relative to this file."
    )
    retention: RetentionSection = Field(
        default_factory=RetentionSection,
        title="Evidence retention",
        description="Days evidence of closed cases is kept per kind, a quota, and the free-space floor "
        "below which clips pause.",
    )
    camera_events: list[CameraEventRuleConfig] = Field(
        default_factory=list,
        title="Camera events",
        description="What the cameras' own ONVIF events mean, first match wins; after these, tamper topics "
        "open camera_tamper and video loss camera_offline incidents.",
    )
    mqtt: MqttSection | None = Field(
        default=None,
        title="MQTT",
        description="A broker to publish incidents, events and camera availability to (QoS 1, retained "
        "availability); none by default.",
    )
    sign_in: SignInSection = Field(
        default_factory=SignInSection,
        title="Sign-in",
        description="Failed sign-ins that lock an account or a client address, and for how long.",
    )
    metrics: MetricsSection = Field(
        default_factory=MetricsSection,
        title="Metrics",
        description="The key Prometheus scrapes /metrics with, read from the environment.",
    )
    gb28181: Gb28181Section | None = Field(
        default=None,
        title="GB/T 28181",
        description="Take cameras and alarms from the county's GB/T 28181 devices and platforms, and report "
        "incidents up to the county platform.",
    )
    link: LinkSection = Field(
        default_factory=LinkSection,
        title="County link",
        description="How the county centre watches its townships' links and nodes (gridwatch centre, node).",
    )

    @field_validator("grids_file", "roster_file")
    @classmethod
    def _existing_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        base = info.context.get("base_dir") if isinstance(info.context, Mapping) else None
        path = value if value.is_absolute() or base is None else Path(base) / value
        if not path.is_file():
            raise ValueError(f"no such file: {path}")
        return path

    @field_validator("cameras")
    @classmethod
    def _unique_ids(cls, value: list[CameraConfig]) -> list[CameraConfig]:
        ids = [camera.id for camera in value]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"camera ids used more than once: {', '.join(twice)}")
        return value

    townships: list[TownshipConfig] = Field(
        default_factory=list,
        title="Townships",
        description="For a county of several nodes: the cameras each township's nodes share, and those "
        "pinned to one node; a camera not listed runs in the township its picture covers.",
    )

    @field_validator("townships")
    @classmethod
    def _placed_once(cls, value: list[TownshipConfig], info: ValidationInfo) -> list[TownshipConfig]:
        cameras = info.data.get("cameras")
        problems = township_problems(value, {c.id for c in cameras} if cameras is not None else None)
        if problems:
            raise ValueError("; ".join(problems))
        return value
