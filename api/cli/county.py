"""What `gridwatch node` and `gridwatch centre` run: one role each, joined by NATS JetStream (api/nats).

A node connects to its township's leaf server (or, with no hub domain, to the one server of a small site),
makes sure the township's stream, clip store and command mirror exist, and analyses the cameras it owns.
The centre connects to the hub, makes sure the county stream sources every township and its intake consumer
exists, writes its camera registry into the townships' buckets and serves the API. Both are async context
managers, so tests run the same code the commands run.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import nats
import numpy as np
from nats.aio.client import Client as NATS

from api.auth import AuthConfig
from api.nats.commands import KvCommands, StaticAssignment, ensure_command_mirror, ensure_commands
from api.nats.link import JetStreamIntake, JetStreamSink, Township, ensure_centre, ensure_township
from api.nats.servers import HUB_DOMAIN
from api.wiring import CountyCentre, Node, build_county_centre, build_node
from detect.port import Detector
from models.clock import Clock
from models.records import Detection
from models.store import Store
from router.centre.routing import Routing


class IdleDetector:
    """The centre's: it analyses no camera, so a call would be a wiring bug."""

    name = "none"
    labels: Mapping[int, str] = MappingProxyType({})

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        raise RuntimeError("the county centre runs no detector")


async def _connect(url: str) -> NATS:
    # A leaf or hub restarting is routine: reconnect for ever, quickly.
    return await nats.connect(
        url, max_reconnect_attempts=-1, reconnect_time_wait=0.5, connect_timeout=5, allow_reconnect=True
    )


@contextlib.asynccontextmanager
async def running_node(
    url: str,
    township: str,
    detector: Detector,
    clock: Clock,
    *,
    hub_domain: str | None = HUB_DOMAIN,
    cameras: Sequence[str] | None = None,
    **analysis_options: Any,
) -> AsyncIterator[Node]:
    """A node of ``township`` on the leaf at ``url``; ``hub_domain`` None: one server, no leaf (no mirror).

    ``cameras``: the ids it runs (default every camera of the township); a lease set replaces this through
    ``Node.commands.reassign``.
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
        node = build_node(
            JetStreamSink(js, township, domain=domain),
            bucket,
            detector,
            clock,
            assignment=StaticAssignment(cameras) if cameras else None,
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
