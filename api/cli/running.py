"""What `gridwatch serve` and `gridwatch demo` run: the site, its detectors, both roles, the HTTP server."""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import uvicorn

from api.auth import AuthConfig, WeakSecret
from api.cli.common import settle_heap, stopped_by_sigterm
from api.problems import UsageProblem
from api.site import (
    DEMO_PASSWORD,
    SiteData,
    configured_site,
    demo_site,
    load_site,
    read_policies,
    seed_demo_users,
    site_auth,
)
from api.webrtc import offer_loopback_only
from api.wiring import build_gb28181, build_system
from detect.backends.factory import build_detector, build_fire_detector
from detect.errors import ModelError
from detect.port import Detector
from detect.rules.fire import FIRE_EVERY_SECONDS
from detect.tiling import tiled
from ingest.camera_urls import parse_subnets
from models.clock import SystemClock
from models.config import DetectorsSection
from models.db import open_database
from models.settings import Settings
from models.store import Store
from router.duty import Roster


def run_site(current: Settings, config_path: Path, *, host: str, port: int) -> None:
    try:
        auth = AuthConfig.checked(
            current.secret_key,
            access_ttl=timedelta(minutes=current.access_token_minutes),
            refresh_ttl=timedelta(hours=current.refresh_token_hours),
        )
    except WeakSecret as exc:
        raise UsageProblem(str(exc)) from None
    check_port_free(host, port)
    site, detectors = configured_site(config_path)
    auth = site_auth(auth, site)
    person, fire = _detectors(detectors)
    _run(
        current.database_url,
        current.data_dir,
        site,
        person,
        auth,
        host=host,
        port=port,
        fire=fire,
        fire_every_s=detectors.fire.every_seconds,
    )


def run_demo(current: Settings, *, host: str, port: int, policies: Path | None = None) -> None:
    """``policies``: a YAML file whose policies: section the demo county runs by."""
    site_policies = read_policies(policies) if policies is not None else None
    check_port_free(host, port)
    site = demo_site()
    if site_policies is not None:
        site = replace(site, policies=site_policies)
    # The fire model loads although the demo street has no fire zone: cameras added from the console may.
    person, fire = _detectors(DetectorsSection())
    _run(
        current.database_url,
        current.data_dir / "demo",
        site,
        person,
        site_auth(AuthConfig.for_demo(), site),
        host=host,
        port=port,
        fire=fire,
        demo=True,
    )


def _detectors(config: DetectorsSection) -> tuple[Detector, Detector | None]:
    try:
        person = build_detector(config.person)
        # On the person model's runtime when that is torch-free: the node then never imports torch.
        fire = build_fire_detector(config.fire, person=person)
        return tiled(person, config.person.tiles_above_persons), fire
    except ModelError as exc:
        # Missing, corrupt or wrong-class weights: the file named, not a traceback.
        raise UsageProblem(str(exc)) from None


def _run(
    database_url: str | None,
    data_dir: Path,
    site: SiteData,
    detector: Detector,
    auth: AuthConfig,
    *,
    host: str,
    port: int,
    fire: Detector | None,
    fire_every_s: float = FIRE_EVERY_SECONDS,
    demo: bool = False,
) -> None:
    database = open_database(database_url, data_dir)
    try:
        with stopped_by_sigterm():
            asyncio.run(
                serve_site(
                    database.url,
                    site,
                    detector,
                    auth,
                    host=host,
                    port=port,
                    demo=demo,
                    fire_detector=fire,
                    fire_every_s=fire_every_s,
                    storage_dir=data_dir / "pg" if database.embedded else None,
                )
            )
    except KeyboardInterrupt:
        pass
    finally:
        database.close()


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
    storage_dir: Path | None = None,
) -> None:
    store = await Store.connect(database_url)
    await load_site(store, site)
    if demo:
        await seed_demo_users(store)
    system = build_system(
        store,
        detector,
        SystemClock(),
        auth,
        timezone=site.timezone,
        channels=site.channels,
        camera_subnets=parse_subnets(site.camera_subnets),
        fire_detector=fire_detector,
        fire_every_s=fire_every_s,
        fire_every_s_by_camera=site.fire_every_s_by_camera,
        clip_seconds=site.clip_seconds,
        policies=site.policies,
        camera_events=site.camera_events,
        retention=site.retention,
        storage_dir=storage_dir,
        mqtt=site.mqtt,
    )
    gb = None
    if site.gb28181 is not None:
        try:
            # Built before the cameras start: channels already in the registry open through it.
            gb = build_gb28181(
                site.gb28181,
                system.centre,
                system.link,
                os.environ,
                timezone=site.timezone,
                analysis=system.analysis,
            )
        except KeyError as exc:
            await store.close()
            raise UsageProblem(str(exc.args[0])) from None
    await system.start()
    if gb is not None:
        await gb.start()
    if demo:
        print_banner(site, host, port)
    if host in ("127.0.0.1", "localhost"):
        offer_loopback_only()
    settle_heap()
    server = uvicorn.Server(
        uvicorn.Config(system.app, host=host, port=port, lifespan="off", log_level="warning")
    )
    try:
        await server.serve()
    finally:
        # Cameras first: a playing channel's BYE still needs the SIP service.
        await system.stop()
        if gb is not None:
            await gb.stop()
        await store.close()


def print_banner(site: SiteData, host: str, port: int) -> None:
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
