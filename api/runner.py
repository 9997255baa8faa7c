"""Wire a site (or the demo county) into a running service: database, imports, detector, HTTP server."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import uvicorn

from api.app import create_app
from api.auth import AuthConfig, WeakSecret, hash_password
from api.cli import UsageProblem
from api.notifier import Channel, Notifier, channels_from_targets
from api.service import Service
from api.webrtc import offer_loopback_only
from detect.backends.ultralytics import UltralyticsDetector
from detect.clips import POST_SECONDS, PRE_SECONDS
from detect.errors import ModelError, ModelUnreadable
from detect.export import exported
from detect.port import Detector
from detect.registry import (
    FIRE_MODELS,
    ModelEntry,
    ResolvedModel,
    SourceKind,
    package_file,
    resolve_fire_model,
    resolve_person_model,
)
from detect.rules.fire import DETECTOR_CONFIDENCE_FLOOR, FIRE_EVERY_SECONDS
from models.auth_store import AuthStore, UserRecord
from models.clock import SystemClock
from models.config import (
    ConfigError,
    FireDetectorConfig,
    ModelsSection,
    PersonDetectorConfig,
    load_site_config,
)
from models.db import open_database
from models.records import Camera, Grid, Shift
from models.settings import Settings
from models.store import Store
from router.duty import Roster
from router.imports.cameras import parse_cameras, site_camera_problems
from router.imports.grids import parse_grids
from router.imports.roster import parse_roster

logger = logging.getLogger(__name__)

#: Debian's opencv-doc ships the demo's pedestrian video; ``./run setup`` installs it.
DEFAULT_DEMO_VIDEO = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
#: The demo's sign-ins: loopback-only fictional users, printed at start-up.
DEMO_PASSWORD = "qinghe-demo"
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
    #: Seconds between the fire model's looks, for cameras whose config overrides models.fire.every_seconds.
    fire_every_s_by_camera: Mapping[str, float] = field(default_factory=dict)
    #: Seconds of event clip before and after each event's start; None: no clips.
    clip_seconds: tuple[float, float] | None = (PRE_SECONDS, POST_SECONDS)


def model_dirs() -> list[Path]:
    """Directories named by GRIDWATCH_MODEL_DIRS (``os.pathsep``-separated) that exist."""
    raw = os.environ.get("GRIDWATCH_MODEL_DIRS", "")
    return [Path(p) for p in raw.split(os.pathsep) if p and Path(p).is_dir()]


def build_detector(person: PersonDetectorConfig | None = None) -> Detector:
    """The person detector a site asks for; an OpenVINO export runs on gridwatch's own OpenVINO runner.

    That runner is what docs/benchmarks.md measures at 3.8× Ultralytics' predict loop: letterboxed to each
    camera's aspect ratio, no torch pre/post-processing, a batch spread over OpenVINO's streams.
    """
    person = person or PersonDetectorConfig()
    configured = Path(person.weights) if person.weights else None
    try:
        resolved = resolve_person_model(configured, model_dirs())
        logger.info(
            "person detector: %s (%s, sha256 verified: %s)",
            resolved.name,
            resolved.source,
            resolved.sha256_verified,
        )
        return _person_backend(resolved, person)
    except ModelError as exc:
        # Missing, corrupt or wrong-class weights: one line naming the file, not a traceback.
        raise UsageProblem(str(exc)) from None


def _person_backend(resolved: ResolvedModel, person: PersonDetectorConfig) -> Detector:
    weights = resolved.weights
    export = weights.is_dir() and any(weights.glob("*.xml"))
    if person.backend == "auto" and weights.suffix == ".pt":
        # The faster format, made once on first use: OpenVINO runs these weights ~3× Ultralytics' loop.
        try:
            weights, export = exported(weights, "openvino"), True
        except ModelUnreadable as exc:
            logger.warning("%s: %s; the person model runs on Ultralytics instead", weights, exc.reason)
    if person.backend == "openvino" or (person.backend == "auto" and export):
        from detect.backends.openvino_native import OpenVinoDetector

        if not export:
            if weights.suffix != ".pt":
                raise UsageProblem(
                    f"models.person.backend is openvino but {weights} is neither an OpenVINO export folder "
                    "nor .pt weights to export"
                )
            weights = exported(weights, "openvino")
        logger.info("person detector back-end: OpenVINO, long side %d", person.imgsz)
        return OpenVinoDetector(
            weights,
            imgsz=person.imgsz,
            confidence=person.confidence,
            meanings=resolved.meanings,
            name=resolved.name,
        )
    if person.backend == "onnxruntime":
        from detect.backends.onnx_runtime import OnnxRuntimeDetector

        if weights.suffix != ".onnx":
            if weights.suffix != ".pt":
                raise UsageProblem(
                    f"models.person.backend is onnxruntime but {weights} is neither .onnx nor .pt weights"
                )
            weights = exported(weights, "onnx")
        logger.info("person detector back-end: ONNX Runtime, long side %d", person.imgsz)
        return OnnxRuntimeDetector(
            weights,
            imgsz=person.imgsz,
            confidence=person.confidence,
            meanings=resolved.meanings,
            name=resolved.name,
        )
    logger.info("person detector back-end: Ultralytics, %d×%d", person.imgsz, person.imgsz)
    return UltralyticsDetector.from_resolved(
        replace(resolved, imgsz=person.imgsz), confidence=person.confidence
    )


def build_fire_detector(
    fire: FireDetectorConfig | None = None, *, candidates: Sequence[ModelEntry] = FIRE_MODELS
) -> Detector | None:
    """The fire/smoke detector when the optional ``fire-detector`` package is installed, else None.

    Says in one log line whether fire/smoke detection is on. Weights that are there but refused or
    unreadable stop start-up naming the file: a site that installed the model expects fire zones to work.
    """
    fire = fire or FireDetectorConfig()
    if not fire.enabled:
        logger.info("fire/smoke detection: off (models.fire.enabled is false); fire zones stay idle")
        return None
    if not any(_present(entry) for entry in candidates):
        logger.info(
            "fire/smoke detection: off (the fire-detector package is not installed: "
            "pip install 'gridwatch[fire]'); fire zones stay idle"
        )
        return None
    try:
        resolved = resolve_fire_model(None, model_dirs(), candidates=candidates)
        if resolved is None:  # present but refused, e.g. a digest mismatch (logged by the registry)
            raise UsageProblem(f"fire/smoke model refused: {', '.join(c.name for c in candidates)}")
        detector = UltralyticsDetector.from_resolved(resolved, confidence=DETECTOR_CONFIDENCE_FLOOR)
    except ModelError as exc:
        raise UsageProblem(str(exc).splitlines()[0]) from None
    logger.info(
        "fire/smoke detection: on (%s, sha256 verified: %s), every %g s on cameras with a fire zone",
        resolved.name,
        resolved.sha256_verified,
        fire.every_seconds,
    )
    return detector


def _present(entry: ModelEntry) -> bool:
    """Whether a fire model's weights are on this machine at all (not whether they load)."""
    if entry.source is SourceKind.PACKAGE:
        return package_file(entry.locator) is not None
    return entry.source is SourceKind.PATH and any((d / entry.locator).exists() for d in model_dirs())


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
    return SiteData(timezone, grids, roster, [replace(c, source=video) for c in cameras])


def configured_site(path: Path) -> tuple[SiteData, ModelsSection]:
    try:
        config = load_site_config(path, checks=[site_camera_problems])
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
        channels = tuple(channels_from_targets(config.notifications, os.environ))
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
    )
    return site, config.models


async def load_site(store: Store, site: SiteData) -> None:
    if site.grids is not None:
        await store.replace_grids(site.grids)
    if site.roster is not None:
        await store.replace_roster(site.roster)
    await store.upsert_cameras(site.cameras)


async def seed_demo_users(store: Store) -> None:
    users = AuthStore(store.pool)
    password_hash = hash_password(DEMO_PASSWORD)
    for username, display_name, role, unit_code, worker_id in DEMO_USERS:
        await users.upsert_user(
            UserRecord(username, display_name, password_hash, role, unit_code, worker_id, False)
        )


async def serve_site(
    database_url: str,
    site: SiteData,
    detector: Detector,
    auth: AuthConfig,
    *,
    host: str,
    port: int,
    demo: bool = False,
    fire_detector: Detector | None = None,
    fire_every_s: float = FIRE_EVERY_SECONDS,
) -> None:
    store = await Store.connect(database_url)
    await load_site(store, site)
    if demo:
        await seed_demo_users(store)
    clock = SystemClock()
    service = Service(
        store,
        detector,
        clock,
        timezone=site.timezone,
        fire_detector=fire_detector,
        fire_every_s=fire_every_s,
        fire_every_s_by_camera=site.fire_every_s_by_camera,
        clip_seconds=site.clip_seconds,
    )
    if site.channels:
        service.notifier = Notifier(store, clock, site.channels)
    await service.start()
    if demo:
        print_banner(service, site, host, port)
    if host in ("127.0.0.1", "localhost"):
        offer_loopback_only()
    app = create_app(service, auth, camera_subnets=site.camera_subnets)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, lifespan="off", log_level="warning"))
    try:
        await server.serve()
    finally:
        await app.state.webrtc.aclose()
        await service.stop()
        await store.close()


def print_banner(service: Service, site: SiteData, host: str, port: int) -> None:
    roster = Roster(site.roster or [], tz=site.timezone)
    now = datetime.now(ZoneInfo(site.timezone))
    lines = [
        "",
        f"gridwatch demo: http://{host}:{port}/   (API: /api/incidents, /docs)",
        f"  cameras: {', '.join(f'{c.id} ← {c.source}' for c in site.cameras)}",
        f"  local time {now:%Y-%m-%d %H:%M} {site.timezone}; on duty now:",
    ]
    for grid in (site.grids or [])[:2]:
        duty = roster.resolve(grid.code, now)
        who = f"{duty.assignee.name} ({duty.assignee.worker_id})" if duty.assignee else "nobody"
        lines.append(f"    {grid.code} {grid.name}: {who}")
    lines.append(f"  sign in (password {DEMO_PASSWORD}): wall as `command`; worker page /worker as w001…w004")
    print("\n".join(lines), flush=True)


def check_port_free(host: str, port: int) -> None:
    """Fail before loading models and the database when the port is taken, with one clear line."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UsageProblem(
                f"cannot listen on {host}:{port}: {exc.strerror} (choose another with --port)"
            ) from None


def run_site(settings: Settings, config_path: Path, *, host: str, port: int) -> None:
    try:
        auth = AuthConfig.checked(
            settings.secret_key,
            access_ttl=timedelta(minutes=settings.access_token_minutes),
            refresh_ttl=timedelta(hours=settings.refresh_token_hours),
        )
    except WeakSecret as exc:
        raise UsageProblem(str(exc)) from None
    check_port_free(host, port)
    site, models = configured_site(config_path)
    detector = build_detector(models.person)
    fire_detector = build_fire_detector(models.fire)
    database = open_database(settings.database_url, settings.data_dir)
    try:
        asyncio.run(
            serve_site(
                database.url,
                site,
                detector,
                auth,
                host=host,
                port=port,
                fire_detector=fire_detector,
                fire_every_s=models.fire.every_seconds,
            )
        )
    except KeyboardInterrupt:
        pass
    finally:
        database.close()


def run_demo(settings: Settings, *, host: str, port: int) -> None:
    check_port_free(host, port)
    site = demo_site()
    detector = build_detector()
    # Loaded although the demo street has no fire zone: cameras added from the console may have one.
    fire_detector = build_fire_detector()
    database = open_database(settings.database_url, settings.data_dir / "demo")
    try:
        auth = AuthConfig.for_demo()
        asyncio.run(
            serve_site(
                database.url,
                site,
                detector,
                auth,
                host=host,
                port=port,
                demo=True,
                fire_detector=fire_detector,
            )
        )
    except KeyboardInterrupt:
        pass
    finally:
        database.close()
