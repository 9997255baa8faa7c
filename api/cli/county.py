"""What `gridwatch node` and `gridwatch centre` run: one role each, joined by NATS JetStream (api/nats).

A node connects to its township's leaf server (or, with no hub domain, to the one server of a small site),
makes sure the township's stream, clip store and command mirror exist, and analyses the cameras it owns.
The centre connects to the hub, makes sure the county stream sources every township and its intake consumer
exists, writes its camera registry into the townships' buckets and serves the API. Both are async context
managers, so tests run the same code the commands run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import nats
import numpy as np
import uvicorn
from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError

from api.auth import AuthConfig, WeakSecret
from api.cli.running import check_port_free
from api.nats.commands import KvCommands, StaticAssignment, ensure_command_mirror, ensure_commands
from api.nats.leases import LEASE_S, open_lease_bucket
from api.nats.link import JetStreamIntake, JetStreamSink, Township, ensure_centre, ensure_township
from api.nats.servers import HUB_DOMAIN, leaf_domain
from api.problems import UsageProblem
from api.site import configured_site, demo_site, load_site, seed_demo_users, site_auth
from api.wiring import CountyCentre, Node, build_county_centre, build_node
from detect.backends.factory import build_detector, build_fire_detector
from detect.errors import ModelError
from detect.port import Detector
from detect.tiling import tiled
from models.clock import Clock, SystemClock
from models.config import DetectorsSection
from models.db import open_database
from models.records import Detection
from models.settings import Settings
from models.store import Store
from router.centre.routing import Routing

logger = logging.getLogger(__name__)


def build_detectors(config: DetectorsSection) -> tuple[Detector, Detector | None]:
    try:
        person = tiled(build_detector(config.person), config.person.tiles_above_persons)
        return person, build_fire_detector(config.fire)
    except ModelError as exc:
        raise UsageProblem(str(exc)) from None


class IdleDetector:
    """The centre's: it analyses no camera, so a call would be a wiring bug."""

    name = "none"
    labels: Mapping[int, str] = MappingProxyType({})

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        raise RuntimeError("the county centre runs no detector")


async def _connect(url: str) -> NATS:
    """Connect once (a wrong address fails now, with one line); after that a leaf or hub restarting is
    routine: reconnect for ever, quickly, with one warning line each time instead of a traceback."""
    await asyncio.to_thread(check_reachable, url)

    async def quietly(exc: Exception) -> None:
        logger.warning("NATS %s: %s", url, exc or type(exc).__name__)

    return await nats.connect(
        url,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        allow_reconnect=True,
        error_cb=quietly,
    )


def check_reachable(url: str) -> None:
    """Fail with one line, before loading models or the database, when nothing listens at ``url``."""
    parts = urlsplit(url if "://" in url else f"nats://{url}")
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout=5).close()
    except OSError as exc:
        raise UsageProblem(f"cannot reach NATS at {url}: {exc.strerror or exc}") from None


@contextlib.asynccontextmanager
async def running_node(
    url: str,
    township: str,
    detector: Detector,
    clock: Clock,
    *,
    hub_domain: str | None = HUB_DOMAIN,
    cameras: Sequence[str] | None = None,
    share: bool = False,
    node_id: str | None = None,
    lease_s: float | None = None,
    **analysis_options: Any,
) -> AsyncIterator[Node]:
    """A node of ``township`` on the leaf at ``url``; ``hub_domain`` None: one server, no leaf (no mirror).

    ``cameras``: the ids it runs (default every camera of the township); ``share``: instead, the township's
    nodes share its cameras through leases in the leaf's own bucket (api/nats/leases.py), so they go on
    being shared while the uplink is down.
    """
    nc = await _connect(url)
    try:
        js = nc.jetstream()
        await ensure_township(js, township)
        if hub_domain:
            bucket = await ensure_command_mirror(js, township, hub_domain)
        else:
            bucket = await ensure_commands(js, township)
        # The leaf's own domain, named in the references to clips left in its object store.
        domain = (await js.account_info()).domain
        leases = None
        if share and not cameras:
            leases = await open_lease_bucket(js, township, lease_s=lease_s or LEASE_S)
        node = build_node(
            JetStreamSink(js, township, domain=domain),
            bucket,
            detector,
            clock,
            assignment=StaticAssignment(cameras) if cameras else None,
            leases=leases,
            node_id=node_id or f"{socket.gethostname()}-{os.getpid()}",
            township=township,
            lease_s=lease_s,
            **analysis_options,
        )
        await node.start()
        try:
            yield node
        finally:
            await node.stop()
    finally:
        await nc.close()


def camera_township(
    routing: Routing, explicit: Mapping[str, str], known: frozenset[str]
) -> Callable[[str], str | None]:
    """Which township runs a camera: as ``explicit`` says, else the township its picture covers.

    A camera looking over a township border covers two; the lower code runs it unless ``explicit`` (the
    cluster's ``--camera CAM=TOWNSHIP``) says otherwise.
    """

    def township_of(camera_id: str) -> str | None:
        if camera_id in explicit:
            return explicit[camera_id]
        covered = {u[:9] for u in routing.camera_units.get(camera_id, ()) if len(u) >= 9} & known
        return min(covered) if covered else None

    return township_of


@contextlib.asynccontextmanager
async def running_centre(
    url: str,
    store: Store,
    clock: Clock,
    auth: AuthConfig,
    townships: Sequence[Township],
    *,
    cameras: Mapping[str, str] | None = None,
    **centre_options: Any,
) -> AsyncIterator[CountyCentre]:
    """The county centre on the hub at ``url``, sourcing ``townships``; ``cameras``: camera → township."""
    nc = await _connect(url)
    try:
        js = nc.jetstream()
        await ensure_centre(js, list(townships))
        buckets = {t.code: await ensure_commands(js, t.code) for t in townships}
        commands = KvCommands(buckets, lambda _: None)
        centre = build_county_centre(
            store, clock, auth, JetStreamIntake(nc, js), commands, IdleDetector(), **centre_options
        )
        commands.township_of = camera_township(centre.centre.routing, dict(cameras or {}), frozenset(buckets))
        await centre.start()
        try:
            yield centre
        finally:
            await centre.stop()
    finally:
        await nc.close()


# --- the commands -------------------------------------------------------------------------------------

_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


def parse_townships(specs: Sequence[str], hub_domain: str | None) -> list[Township]:
    """``CODE`` (its leaf's domain is ``t<CODE>``), ``CODE=DOMAIN``, or, with no hub domain, ``CODE`` alone
    on the one server."""
    townships = []
    for spec in specs:
        code, sep, domain = spec.partition("=")
        if not sep:
            domain = leaf_domain(code) if hub_domain else ""
        if not _TOKEN.match(code) or (domain and not _TOKEN.match(domain)):
            raise UsageProblem(
                f"--township {spec!r}: expected CODE or CODE=DOMAIN (letters, digits, - and _)"
            )
        townships.append(Township(code, domain or None))
    if not townships:
        raise UsageProblem("name at least one --township the centre takes events from")
    return townships


def parse_placements(specs: Sequence[str]) -> dict[str, str]:
    placed = {}
    for spec in specs:
        camera, sep, township = spec.partition("=")
        if not sep or not camera or not _TOKEN.match(township):
            raise UsageProblem(f"--camera {spec!r}: expected CAMERA=TOWNSHIP")
        placed[camera] = township
    return placed


def _unreachable(url: str, exc: BaseException) -> UsageProblem:
    return UsageProblem(f"cannot reach NATS at {url}: {exc or type(exc).__name__}")


def run_node_command(
    url: str,
    township: str,
    *,
    hub_domain: str | None,
    cameras: Sequence[str],
    config: Path | None,
) -> None:
    """``gridwatch node``: detectors and analysis options from the site file (or the demo's), cameras from
    the township's command bucket."""
    if not _TOKEN.match(township):
        raise UsageProblem(f"--township {township!r}: letters, digits, - and _ only")
    check_reachable(url)
    if config is not None:
        site, detectors = configured_site(config)
    else:
        site, detectors = demo_site(), DetectorsSection()
    person, fire = build_detectors(detectors)
    options: dict[str, Any] = {
        "fire_detector": fire,
        "fire_every_s": detectors.fire.every_seconds,
        "fire_every_s_by_camera": site.fire_every_s_by_camera,
        "clip_seconds": site.clip_seconds,
        "offline_after_s": site.policies.offline_after_s,
    }

    async def main() -> None:
        try:
            options["hub_domain"], options["cameras"] = hub_domain, cameras or None
            options["share"] = not cameras
            async with running_node(url, township, person, SystemClock(), **options):
                logger.info("node of township %s on %s: following its command bucket", township, url)
                await asyncio.Event().wait()
        except (OSError, NatsError) as exc:
            raise _unreachable(url, exc) from None

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


def run_centre_command(
    current: Settings,
    url: str,
    townships: Sequence[Township],
    *,
    placements: Mapping[str, str],
    config: Path | None,
    host: str,
    port: int,
) -> None:
    """``gridwatch centre``: the site file's county (or the demo's) in the database, the API over it."""
    demo = config is None
    auth = AuthConfig.for_demo() if demo else _auth(current)
    check_port_free(host, port)
    check_reachable(url)
    site = demo_site() if config is None else configured_site(config)[0]
    auth = site_auth(auth, site)
    database = open_database(current.database_url, current.data_dir / ("demo" if demo else ""))

    async def main() -> None:
        store = await Store.connect(database.url)
        try:
            await load_site(store, site)
            if demo:
                await seed_demo_users(store)
            options: dict[str, Any] = {
                "timezone": site.timezone,
                "channels": site.channels,
                "policies": site.policies,
                "cameras": placements,
                "mqtt": site.mqtt,
            }
            try:
                running = running_centre(url, store, SystemClock(), auth, townships, **options)
                async with running as centre:
                    server = uvicorn.Server(
                        uvicorn.Config(centre.app, host=host, port=port, lifespan="off", log_level="warning")
                    )
                    logger.info("county centre on http://%s:%d/, townships %s", host, port, townships)
                    await server.serve()
            except (OSError, NatsError) as exc:
                raise _unreachable(url, exc) from None
        finally:
            await store.close()

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())
    finally:
        database.close()


def _auth(current: Settings) -> AuthConfig:
    try:
        return AuthConfig.checked(
            current.secret_key,
            access_ttl=timedelta(minutes=current.access_token_minutes),
            refresh_ttl=timedelta(hours=current.refresh_token_hours),
        )
    except WeakSecret as exc:
        raise UsageProblem(str(exc)) from None
