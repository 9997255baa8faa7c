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
import ipaddress
import logging
import os
import re
import socket
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
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
from api.cli.common import settle_heap, stopped_by_sigterm
from api.cli.running import check_port_free
from api.nats.commands import KvCommands, StaticAssignment, ensure_command_mirror, ensure_commands
from api.nats.leases import LEASE_S, open_lease_bucket
from api.nats.link import (
    JetStreamIntake,
    JetStreamSink,
    StreamStorageError,
    Township,
    ensure_centre,
    ensure_township,
)
from api.nats.servers import HUB_DOMAIN, leaf_domain
from api.nats.video import TOKEN_ENV, directory_locator, node_video_app, open_video_bucket
from api.problems import UsageProblem
from api.site import SiteData, configured_site, demo_site, load_site, seed_demo_users, site_auth
from api.webrtc import offer_loopback_only
from api.wiring import CountyCentre, Node, build_county_centre, build_node
from detect.backends.factory import build_detector, build_fire_detector
from detect.errors import ModelError
from detect.port import Detector
from detect.tiling import tiled
from models.clock import Clock, SystemClock
from models.config import DetectorsSection, LinkSection
from models.db import open_database
from models.records import Detection
from models.settings import Settings
from models.store import Store
from router.centre.routing import Routing

logger = logging.getLogger(__name__)


def build_detectors(config: DetectorsSection) -> tuple[Detector, Detector | None]:
    try:
        person = build_detector(config.person)
        # On the person model's runtime when that is torch-free: the node then never imports torch.
        fire = build_fire_detector(config.fire, person=person)
        return tiled(person, config.person.tiles_above_persons), fire
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
    heartbeat_s: float | None = None,
    pinned: Sequence[str] = (),
    unshared: Sequence[str] = (),
    video: NodeVideo | None = None,
    **analysis_options: Any,
) -> AsyncIterator[Node]:
    """A node of ``township`` on the leaf at ``url``; ``hub_domain`` None: one server, no leaf (no mirror).

    ``cameras``: the ids it runs (default every camera of the township); ``share``: instead, the township's
    nodes share its cameras through leases in the leaf's own bucket (api/nats/leases.py), so they go on
    being shared while the uplink is down; ``pinned``: cameras this node runs besides its share, without a
    lease; ``unshared``: cameras pinned to any node, which the leases leave out.
    ``video``: serve the centre's wall the cameras it analyses (api/nats/video.py).
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
        video_options: dict[str, Any] = {}
        if video is not None:
            video_options = {"video_bucket": await open_video_bucket(js, township), "video_url": video.url}
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
            heartbeat_nats=nc,
            heartbeat_s=heartbeat_s,
            pinned=pinned,
            unshared=unshared,
            **video_options,
            **analysis_options,
        )
        await node.start()
        try:
            if video is None or node.webrtc is None:
                yield node
            else:
                async with serving(
                    node_video_app(node.webrtc, node.analysis, video.secret), video.host, video.port
                ):
                    yield node
        finally:
            await node.stop()
    finally:
        await nc.close()


@dataclass(frozen=True)
class NodeVideo:
    """Where a node serves its cameras' video to the centre: bind address, and the URL the centre uses."""

    host: str
    port: int
    secret: str
    advertised: str | None = None

    @property
    def url(self) -> str:
        return self.advertised or f"http://{self.host}:{self.port}"


@contextlib.asynccontextmanager
async def serving(app: Any, host: str, port: int) -> AsyncIterator[None]:
    """An ASGI app under uvicorn on ``host:port`` for the duration of the block."""
    if host in ("127.0.0.1", "localhost"):
        offer_loopback_only()
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(), name=f"http-{port}")
    while not server.started:
        if task.done():
            task.result()
            raise OSError(f"cannot listen on {host}:{port}")
        await asyncio.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        await task


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
    link_options: Mapping[str, Any] | None = None,
    video_secret: str | None = None,
    **centre_options: Any,
) -> AsyncIterator[CountyCentre]:
    """The county centre on the hub at ``url``, sourcing ``townships``; ``cameras``: camera → township;
    ``link_options``: how it watches the townships' links (api/nats/health.py LinkMonitor);
    ``video_secret``: the wall plays township cameras from their nodes (api/nats/video.py)."""
    nc = await _connect(url)
    try:
        js = nc.jetstream()
        await ensure_centre(js, list(townships))
        buckets = {t.code: await ensure_commands(js, t.code) for t in townships}
        commands = KvCommands(buckets, lambda _: None)
        domains = {t.code: t.domain for t in townships}
        locate = directory_locator(nc, lambda camera_id: commands.township_of(camera_id), domains)
        centre = build_county_centre(
            store,
            clock,
            auth,
            JetStreamIntake(nc, js),
            commands,
            IdleDetector(),
            monitor_nats=nc,
            townships=list(townships),
            link_options=link_options,
            video_locate=locate if video_secret else None,
            video_secret=video_secret,
            **centre_options,
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


def parse_townships(specs: Sequence[str], hub_domain: str | None, *, required: bool = True) -> list[Township]:
    """``CODE`` (its leaf's domain is ``t<CODE>``), ``CODE=DOMAIN``, or, with no hub domain, ``CODE`` alone
    on the one server; none: an error when ``required`` (else the site file's townships: are used)."""
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
    if not townships and required:
        raise UsageProblem(
            "name at least one --township the centre takes events from (or list them in the site file's "
            "townships:)"
        )
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
    name: str | None = None,
    video_port: int | None = None,
    video_host: str = "127.0.0.1",
    video_url: str | None = None,
) -> None:
    """``gridwatch node``: detectors and analysis options from the site file (or the demo's), cameras from
    the township's command bucket; ``name``: the node's id, which the site file may pin cameras to."""
    if not _TOKEN.match(township):
        raise UsageProblem(f"--township {township!r}: letters, digits, - and _ only")
    if name is not None and not _TOKEN.match(name):
        raise UsageProblem(f"--name {name!r}: letters, digits, - and _ only")
    check_reachable(url)
    if config is not None:
        site, detectors = configured_site(config)
    else:
        site, detectors = demo_site(), DetectorsSection()
    pinned = node_pins(site, township, name)
    video = None
    if video_port is not None:
        secret = os.environ.get(TOKEN_ENV, "")
        if len(secret) < 16:
            raise UsageProblem(
                f"--video-port: set {TOKEN_ENV} (at least 16 characters, the same at the centre)"
            )
        check_port_free(video_host, video_port)
        video = NodeVideo(video_host, video_port, secret, video_url)
    person, fire = build_detectors(detectors)
    options: dict[str, Any] = {
        "fire_detector": fire,
        "fire_every_s": detectors.fire.every_seconds,
        "fire_every_s_by_camera": site.fire_every_s_by_camera,
        "clip_seconds": site.clip_seconds,
        "offline_after_s": site.policies.offline_after_s,
        "heartbeat_s": site.link.heartbeat_seconds,
    }

    async def main() -> None:
        try:
            options["hub_domain"], options["cameras"] = hub_domain, cameras or None
            options["share"] = not cameras
            options["video"] = video
            options["node_id"], options["pinned"], options["unshared"] = (
                name,
                pinned,
                sorted(site.camera_pins),
            )
            async with running_node(url, township, person, SystemClock(), **options):
                settle_heap()
                logger.info("node of township %s on %s: following its command bucket", township, url)
                await asyncio.Event().wait()
        except StreamStorageError as exc:
            raise UsageProblem(f"township {township}: {exc}") from None
        except (OSError, NatsError) as exc:
            raise _unreachable(url, exc) from None

    with contextlib.suppress(KeyboardInterrupt), stopped_by_sigterm():
        asyncio.run(main())


def node_pins(site: SiteData, township: str, name: str | None) -> list[str]:
    """The cameras the site file pins to node ``name`` of ``township``; a pin to it in another township is
    a mistake in the command line or the file, said before anything starts."""
    mine = sorted(c for c, node in site.camera_pins.items() if node == name)
    elsewhere = sorted(c for c in mine if site.camera_townships.get(c) != township)
    if elsewhere:
        where = site.camera_townships.get(elsewhere[0])
        raise UsageProblem(
            f"--name {name}: the site file pins {', '.join(elsewhere)} to this node in township {where}, "
            f"not {township}"
        )
    return mine


def run_centre_command(
    current: Settings,
    url: str,
    townships: Sequence[Township],
    *,
    placements: Mapping[str, str],
    config: Path | None,
    host: str,
    port: int,
    hub_domain: str | None = HUB_DOMAIN,
    demo_users: bool = False,
) -> None:
    """``gridwatch centre``: the site file's county (or the demo's) in the database, the API over it; with
    no ``townships`` given, those the site file lists. ``demo_users``: the demo's sign-ins over a site
    file (``./run cluster``), on a loopback address only: their password is public."""
    demo = config is None
    if demo_users and not _loopback(host):
        raise UsageProblem(f"--demo-users signs in with a public password: listen on 127.0.0.1, not {host}")
    auth = AuthConfig.for_demo() if demo else _auth(current)
    check_port_free(host, port)
    check_reachable(url)
    site = demo_site() if config is None else configured_site(config)[0]
    auth = site_auth(auth, site)
    # The site file's townships: section places its cameras; --camera on the command line wins.
    placements = {**site.camera_townships, **placements}
    if not townships:
        townships = parse_townships(site.townships, hub_domain)
    database = open_database(current.database_url, current.data_dir / ("demo" if demo else ""))

    async def main() -> None:
        store = await Store.connect(database.url)
        try:
            await load_site(store, site)
            if demo or demo_users:
                await seed_demo_users(store)
            options: dict[str, Any] = {
                "timezone": site.timezone,
                "channels": site.channels,
                "policies": site.policies,
                "cameras": placements,
                "mqtt": site.mqtt,
                "link_options": link_options(site.link),
                # The wall plays township cameras from their nodes when the nodes share this token.
                "video_secret": os.environ.get(TOKEN_ENV) or None,
            }
            try:
                running = running_centre(url, store, SystemClock(), auth, townships, **options)
                async with running as centre:
                    settle_heap()
                    server = uvicorn.Server(
                        uvicorn.Config(centre.app, host=host, port=port, lifespan="off", log_level="warning")
                    )
                    logger.info("county centre on http://%s:%d/, townships %s", host, port, townships)
                    await server.serve()
            except StreamStorageError as exc:
                raise UsageProblem(str(exc)) from None
            except (OSError, NatsError) as exc:
                raise _unreachable(url, exc) from None
        finally:
            await store.close()

    try:
        with contextlib.suppress(KeyboardInterrupt), stopped_by_sigterm():
            asyncio.run(main())
    finally:
        database.close()


def link_options(link: LinkSection) -> dict[str, float]:
    """The site's ``link:`` section as the centre's LinkMonitor takes it."""
    return {
        "probe_s": link.probe_seconds,
        "down_after_s": link.down_after_seconds,
        "skew_flag_s": link.skew_flag_seconds,
    }


def _auth(current: Settings) -> AuthConfig:
    try:
        return AuthConfig.checked(
            current.secret_key,
            access_ttl=timedelta(minutes=current.access_token_minutes),
            refresh_ttl=timedelta(hours=current.refresh_token_hours),
        )
    except WeakSecret as exc:
        raise UsageProblem(str(exc)) from None


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
