"""The site a process serves: the configured county (site YAML) or the demo county shipped in api/demo."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

from api.auth import AuthConfig, hash_password, key_digest
from api.mqtt import MqttSettings
from api.problems import UsageProblem
from detect.analysis.clips import POST_SECONDS, PRE_SECONDS
from models.camera_events import CameraEventTable
from models.config import (
    ConfigError,
    DetectorsSection,
    LinkSection,
    SignInSection,
    camera_pins,
    camera_townships,
    load_policies_file,
    load_site_config,
)
from models.config.gb28181 import Gb28181Section
from models.records import Camera, Grid, Shift
from models.secrets import expand_secret
from models.store import Store, UserRecord
from router.imports.cameras import parse_cameras, site_camera_problems
from router.imports.grids import parse_grids
from router.imports.roster import parse_roster
from router.notify.channels import Channel, channels_from_targets
from router.policies import DEFAULT_POLICIES, Policies, build_policies, policy_problems
from router.retention import DEFAULT_RETENTION, RetentionPolicy, retention_policy

logger = logging.getLogger(__name__)

#: Debian's opencv-doc ships the demo's pedestrian video; ``./run setup`` installs it.
DEFAULT_DEMO_VIDEO = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
#: The demo's sign-ins: loopback-only fictional users, printed at start-up.
DEMO_PASSWORD = "qinghe-demo"
#: Where the scrape key is read from when the site file does not say (and for the demo).
DEFAULT_METRICS_KEY_ENV = "GRIDWATCH_METRICS_KEY"
MIN_METRICS_KEY = 16
DEMO_USERS: tuple[tuple[str, str, str, str, str | None], ...] = (
    # username, display name, role, unit code, roster worker id
    ("command", "县指挥中心值班员", "county_command", "379901", None),
    ("chengguan", "城关街道值班员", "township", "379901001", None),
    ("w001", "王芳", "grid_worker", "379901001001001", "w001"),
    ("w002", "李强", "grid_worker", "379901001001001", "w002"),
    ("w003", "张伟", "grid_worker", "379901001001002", "w003"),
    ("w004", "刘洋", "grid_worker", "379901001001002", "w004"),
    ("w005", "陈静", "grid_worker", "379901001001003", "w005"),
    ("w007", "赵敏", "grid_worker", "379901001002004", "w007"),
    ("admin", "系统管理员", "admin", "", None),
)


@dataclass(frozen=True)
class SiteData:
    timezone: str
    grids: list[Grid] | None
    roster: list[Shift] | None
    cameras: list[Camera]
    #: Where incidents are announced, secrets already read from the environment.
    channels: tuple[Channel, ...] = ()
    #: Networks cameras may be added from at run time.
    camera_subnets: tuple[str, ...] = ()
    #: Seconds between the fire model's looks at cameras that override detectors.fire.every_seconds.
    fire_every_s_by_camera: Mapping[str, float] = field(default_factory=dict)
    #: Seconds of event clip before and after each event's start; None: no clips.
    clip_seconds: tuple[float, float] | None = (PRE_SECONDS, POST_SECONDS)
    #: The site file's policies: section (triage, deadlines, filing, offline, dedup cell, snap distance).
    policies: Policies = DEFAULT_POLICIES
    #: What each camera event topic means (the site's ``camera_events:`` rules, then the defaults).
    camera_events: CameraEventTable = field(default_factory=CameraEventTable)
    #: The site file's retention: section (days per kind, quota, free-space floor for clips).
    retention: RetentionPolicy = DEFAULT_RETENTION
    #: The site's ``mqtt:`` broker, credentials already read from the environment; None: no MQTT.
    mqtt: MqttSettings | None = None
    #: Failed sign-ins that lock an account or an address (the site's ``sign_in:`` section).
    sign_in: SignInSection = field(default_factory=SignInSection)
    #: The key Prometheus scrapes /metrics with, read from the environment; None: admins only.
    metrics_key: str | None = None
    #: The site's ``gb28181:`` section: GB/T 28181 devices, alarms and the county platform above.
    gb28181: Gb28181Section | None = None
    #: How the county centre watches the townships' links (the site's ``link:`` section).
    link: LinkSection = field(default_factory=LinkSection)
    #: The site file's townships: section: camera → township code, camera → pinned node, every code listed.
    camera_townships: Mapping[str, str] = field(default_factory=dict)
    camera_pins: Mapping[str, str] = field(default_factory=dict)
    townships: tuple[str, ...] = ()


def demo_video() -> Path:
    video = Path(os.environ.get("GRIDWATCH_DEMO_VIDEO", DEFAULT_DEMO_VIDEO))
    if not video.is_file():
        raise UsageProblem(
            f"demo video {video} is missing: run `./run setup` (installs Debian's opencv-doc) "
            "or set GRIDWATCH_DEMO_VIDEO to a video file"
        )
    return video


def demo_site() -> SiteData:
    """The fictional 青河县 county shipped in api/demo, its camera fed by the local demo video."""
    demo = resources.files("api") / "demo"
    grids = parse_grids((demo / "grids.geojson").read_text(encoding="utf-8"))
    known = {unit.code for grid in grids for unit in grid.chain()}
    roster = parse_roster((demo / "roster.csv").read_text(encoding="utf-8"), known_units=known)
    timezone, cameras = parse_cameras((demo / "cameras.json").read_text(encoding="utf-8"))
    video = str(demo_video())
    return SiteData(
        timezone, grids, roster, [replace(c, source=video) for c in cameras], metrics_key=metrics_key()
    )


def configured_site(path: Path) -> tuple[SiteData, DetectorsSection]:
    try:
        config = load_site_config(path, checks=[site_camera_problems, policy_problems])
    except ConfigError as exc:
        raise UsageProblem(*exc.problems) from None
    grids = parse_grids(config.grids_file.read_text(encoding="utf-8")) if config.grids_file else None
    roster = None
    if config.roster_file:
        known = {unit.code for grid in grids or [] for unit in grid.chain()} or None
        roster_text = config.roster_file.read_text(encoding="utf-8")
        roster = parse_roster(roster_text, known_units=known) if known else None
        if roster is None:
            logger.warning("roster_file given without grids_file: import grids first, roster not loaded")
    cameras = [camera.to_camera() for camera in config.cameras]
    try:
        channels = tuple(
            replace(c, case_url=config.site.public_url)
            for c in channels_from_targets(config.notifications, os.environ)
        )
        mqtt = MqttSettings.of(config.mqtt, os.environ) if config.mqtt is not None else None
    except KeyError as exc:
        raise UsageProblem(str(exc.args[0])) from None
    if config.gb28181 is not None:
        gb = config.gb28181
        for secret in (gb.password, *((gb.upper.password,) if gb.upper is not None else ())):
            try:
                expand_secret(secret, os.environ)
            except KeyError as exc:
                raise UsageProblem(str(exc.args[0])) from None
    fire_every = {c.id: c.fire_every_seconds for c in config.cameras if c.fire_every_seconds is not None}
    clips = config.clips
    site = SiteData(
        config.site.timezone,
        grids,
        roster,
        cameras,
        channels,
        tuple(config.site.camera_subnets),
        fire_every,
        (clips.pre_seconds, clips.post_seconds) if clips.enabled else None,
        build_policies(config.policies),
        CameraEventTable(
            [rule.to_rule() for rule in config.camera_events]
            + (config.gb28181.camera_event_rules() if config.gb28181 is not None else [])
        ),
        retention_policy(config.retention),
        mqtt,
        sign_in=config.sign_in,
        metrics_key=metrics_key(config.metrics.api_key_env),
        gb28181=config.gb28181,
        link=config.link,
        camera_townships=camera_townships(config.townships),
        camera_pins=camera_pins(config.townships),
        townships=tuple(t.code for t in config.townships),
    )
    return site, config.detectors


def metrics_key(env_name: str | None = DEFAULT_METRICS_KEY_ENV) -> str | None:
    """The scrape key from the environment; a short one is refused (it guards the whole county's figures)."""
    key = os.environ.get(env_name, "").strip() if env_name else ""
    if key and len(key) < MIN_METRICS_KEY:
        raise UsageProblem(f"{env_name} is too short: use at least {MIN_METRICS_KEY} random characters")
    return key or None


def site_auth(auth: AuthConfig, site: SiteData) -> AuthConfig:
    """The sign-in settings the site file adds to the process's: lockouts and the scrape key."""
    digest = key_digest(site.metrics_key) if site.metrics_key else None
    return replace(auth, sign_in=site.sign_in, metrics_key_sha256=digest)


def read_policies(path: Path) -> Policies:
    """The policies: section of a YAML file (a whole site file will do), for the demo county."""
    try:
        return build_policies(load_policies_file(path, checks=[policy_problems]))
    except ConfigError as exc:
        raise UsageProblem(*exc.problems) from None


async def load_site(store: Store, site: SiteData) -> None:
    if site.grids is not None:
        await store.grids.replace(site.grids)
    if site.roster is not None:
        await store.roster.replace(site.roster)
    await store.cameras.upsert(site.cameras)
    # Starting a site applies its file to the registry, the roster and the configuration: audited.
    applied = [f"{len(site.cameras)} cameras"]
    if site.grids is not None:
        applied.insert(0, f"{len(site.grids)} grids")
    if site.roster is not None:
        applied.append(f"{len(site.roster)} roster rows")
    await store.audit.record(
        actor="serve", action="apply", object_type="site", object_id="site", reason=", ".join(applied)
    )


async def seed_demo_users(store: Store) -> None:
    password_hash = hash_password(DEMO_PASSWORD)
    for username, display_name, role, unit_code, worker_id in DEMO_USERS:
        await store.users.upsert(
            UserRecord(username, display_name, password_hash, role, unit_code, worker_id, False)
        )
