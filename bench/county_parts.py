"""What the county benchmarks share: real nats-servers (a hub and township leaves), scripted events published
into the townships' streams as nodes publish them, a centre on the hub, and the figures read back from
PostgreSQL (each event row's commit time against its capture time)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.router import _event

if TYPE_CHECKING:
    from api.nats.servers import Cluster
    from models.link import AnalysisMessage
    from models.store import Store

#: How many publishes a scripted township keeps waiting for their PubAck at once.
PUBLISH_WINDOW = 256


def township_code(n: int) -> str:
    """The n-th township's code (9 digits like the demo county's, e.g. 379901001)."""
    return f"3799{n + 1:05d}"


@contextlib.contextmanager
def county_servers(townships: Sequence[str]) -> Iterator[Cluster]:
    """A hub and one leaf per township, started in a temp dir, stopped and removed after the block."""
    from api.nats.servers import cluster

    directory = Path(tempfile.mkdtemp(prefix="gridwatch-bench-nats-"))
    servers = cluster(directory, list(townships))
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()
        shutil.rmtree(directory, ignore_errors=True)


def episode(rng: random.Random, camera_id: str, at: datetime) -> list[AnalysisMessage]:
    """One scripted detection: a crowd START and its END, captured at ``at``."""
    from models.link import EventReport
    from models.records import EventPhase

    event = _event(rng, camera_id, at)
    return [
        EventReport(EventPhase.START, event),
        EventReport(EventPhase.END, replace(event, ended_at=at + timedelta(seconds=8))),
    ]


class Township:
    """A township's scripted nodes: one connection to its leaf, messages published as JetStreamSink does
    (same subjects, wire, Nats-Msg-Id), up to PUBLISH_WINDOW awaiting their PubAck at once."""

    def __init__(self, code: str, url: str, domain: str) -> None:
        self.code, self.url, self.domain = code, url, domain
        self.published = 0
        self._nc: Any = None
        self._js: Any = None

    async def connect(self) -> None:
        import nats

        from api.nats.link import ensure_township

        self._nc = await nats.connect(self.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        self._js = self._nc.jetstream()
        await ensure_township(self._js, self.code)

    async def publish(self, messages: Sequence[AnalysisMessage], *, again: bool = False) -> None:
        """Publish in order with a window of PubAcks outstanding; ``again``: under fresh message ids, as a
        copy arriving after the stream's duplicate window would (only the intake's keys refuse it)."""
        from api.nats.link import township_subject
        from api.nats.wire import encode, message_id

        window = asyncio.Semaphore(PUBLISH_WINDOW)
        pending: set[asyncio.Task[None]] = set()

        async def one(message: AnalysisMessage) -> None:
            try:
                msg_id = message_id(message) + (".again" if again else "")
                subject = township_subject(self.code, type(message).__name__)
                await self._js.publish(subject, encode(message), headers={"Nats-Msg-Id": msg_id}, timeout=30)
                self.published += 1
            finally:
                window.release()

        for message in messages:
            await window.acquire()
            task = asyncio.create_task(one(message))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.gather(*pending)

    async def close(self) -> None:
        if self._nc is not None:
            await self._nc.close()


async def centre_sourced(hub_url: str, townships: Sequence[str], expected: int, timeout_s: float) -> float:
    """Wait until the centre's stream has sourced ``expected`` messages; seconds waited."""
    import nats

    from api.nats.link import CENTRE_STREAM, Township, ensure_centre
    from api.nats.servers import leaf_domain

    nc = await nats.connect(hub_url)
    try:
        js = nc.jetstream()
        await ensure_centre(js, [Township(t, leaf_domain(t)) for t in townships])
        loop = asyncio.get_running_loop()
        began = loop.time()
        while (await js.stream_info(CENTRE_STREAM)).state.messages < expected:
            if loop.time() - began > timeout_s:
                raise TimeoutError(f"the centre's stream did not source {expected} messages in {timeout_s} s")
            await asyncio.sleep(0.2)
        return loop.time() - began
    finally:
        await nc.close()


@contextlib.asynccontextmanager
async def county_centre(
    store: Store, hub_url: str, townships: Sequence[str], cameras: dict[str, str] | None = None
) -> AsyncIterator[Any]:
    """``gridwatch centre`` on the hub, sourcing the townships (api/cli/county.py's running_centre);
    ``cameras``: camera → township, written into the townships' command buckets as the centre starts."""
    from api.auth import AuthConfig
    from api.cli.county import running_centre
    from api.nats.link import Township
    from api.nats.servers import leaf_domain
    from models.clock import SystemClock

    listed = [Township(t, leaf_domain(t)) for t in townships]
    async with running_centre(
        hub_url, store, SystemClock(), AuthConfig.for_demo(), listed, cameras=cameras
    ) as centre:
        yield centre


async def commit_delays(store: Store) -> dict[str, list[float]]:
    """Per camera-id prefix (the township), each event's commit time minus its capture time, in seconds.

    events.created_at is the committing transaction's start (now()), so this is capture → incident."""
    rows = await store.pool.fetch(
        "SELECT split_part(camera_id, '-', 2) AS township,"
        " extract(epoch FROM created_at - started_at)::float8 AS delay FROM events"
        " WHERE camera_id NOT LIKE '%-warm'"
    )
    out: dict[str, list[float]] = {}
    for row in rows:
        out.setdefault(row["township"], []).append(row["delay"])
    return out


async def count(store: Store, sql: str) -> int:
    value: int = await store.pool.fetchval(sql)
    return value


def county_cameras(townships: Sequence[str], per_township: int) -> tuple[list[Any], dict[str, str]]:
    """``per_township`` copies of the demo camera per township, ids ``cam-<township>-<n>``, and which
    township runs each; and one more each, ``cam-<township>-warm``, for warm_up."""
    from bench.postgres import demo_cameras

    cameras, placed = [], {}
    template = demo_cameras(1, "bench.mp4")[0]
    for code in townships:
        for n in [*(f"{n:03d}" for n in range(per_township)), "warm"]:
            camera_id = f"cam-{code}-{n}"
            cameras.append(replace(template, id=camera_id, name=camera_id))
            placed[camera_id] = code
    return cameras, placed


def publish_at_rate(
    leaves: Sequence[tuple[str, str, str]], per_township: int, period_s: float, duration_s: float
) -> None:
    """A process of scripted nodes: each township's cameras report one episode each per ``period_s``,
    captured now, for ``duration_s`` (spawned, so its CPU is not the centre's)."""
    asyncio.run(_publish_at_rate(leaves, per_township, period_s, duration_s))


def scheduled(per_township: int, period_s: float, duration_s: float) -> int:
    """Episodes one township publishes in ``publish_at_rate``."""
    return int(duration_s / (period_s / per_township))


async def _publish_at_rate(
    leaves: Sequence[tuple[str, str, str]], per_township: int, period_s: float, duration_s: float
) -> None:
    from datetime import UTC

    townships = [Township(*leaf) for leaf in leaves]
    for township in townships:
        await township.connect()
    loop = asyncio.get_running_loop()
    began = loop.time()
    interval = period_s / per_township

    async def one(index: int, township: Township) -> None:
        rng = random.Random(index)
        # Townships start out of step, as real ones are.
        offset = interval * index / len(townships)
        for k in range(scheduled(per_township, period_s, duration_s)):
            await asyncio.sleep(max(0.0, began + offset + k * interval - loop.time()))
            camera_id = f"cam-{township.code}-{k % per_township:03d}"
            await township.publish(episode(rng, camera_id, datetime.now(UTC)))

    try:
        await asyncio.gather(*(one(i, t) for i, t in enumerate(townships)))
    finally:
        for township in townships:
            await township.close()


class LagProbe:
    """The centre's stream's lag behind each township stream it sources (messages not yet copied, as the
    hub counts them), read over a connection of its own."""

    def __init__(self, hub_url: str) -> None:
        self.hub_url = hub_url
        self.most: dict[str, int] = {}
        self._nc: Any = None

    async def __aenter__(self) -> LagProbe:
        import nats

        self._nc = await nats.connect(self.hub_url)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._nc.close()

    async def sample(self) -> dict[str, int]:
        """One reading per township; ``most`` keeps each one's highest."""
        from api.nats.link import CENTRE_STREAM

        info = await self._nc.jetstream().stream_info(CENTRE_STREAM)
        lags = {str(s.name).removeprefix("GW_"): int(s.lag or 0) for s in info.sources or []}
        for code, lag in lags.items():
            self.most[code] = max(self.most.get(code, 0), lag)
        return lags


class Uplink:
    """A township's uplink as a TCP relay between its leaf and the hub's leafnode port, cut at will: its
    node and the centre stay connected to their own servers, only the link between the servers drops."""

    def __init__(self, hub_leaf_port: int) -> None:
        from api.nats.servers import free_port

        self.hub_leaf_port = hub_leaf_port
        self.port = free_port()
        self.down = False
        self._pipes: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.close()
            return
        hub_reader, hub_writer = await asyncio.open_connection("127.0.0.1", self.hub_leaf_port)
        self._pipes |= {writer, hub_writer}
        await asyncio.gather(_pipe(reader, hub_writer), _pipe(hub_reader, writer), return_exceptions=True)

    def cut(self) -> None:
        self.down = True
        for writer in self._pipes:
            writer.close()
        self._pipes.clear()

    def restore(self) -> None:
        self.down = False

    async def aclose(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def warm_up(store: Store, leaves: Sequence[tuple[str, str, str]], timeout_s: float = 120.0) -> float:
    """One episode per township from its ``-warm`` camera, until the centre has committed them all: the
    centre's stream starts sourcing a township only once its leaf has joined the hub, seconds after the
    servers start, and that wait is not an event's latency. Seconds it took."""
    from datetime import UTC

    loop = asyncio.get_running_loop()
    began = loop.time()
    for index, leaf in enumerate(leaves):
        township = Township(*leaf)
        await township.connect()
        try:
            await township.publish(episode(random.Random(index), f"cam-{leaf[0]}-warm", datetime.now(UTC)))
        finally:
            await township.close()
    warm = "SELECT count(*) FROM events WHERE camera_id LIKE '%-warm'"
    while await count(store, warm) < len(leaves):
        if loop.time() - began > timeout_s:
            raise TimeoutError(f"the townships' first events did not reach the centre in {timeout_s} s")
        await asyncio.sleep(0.2)
    return loop.time() - began


async def ensure_townships(leaves: Sequence[tuple[str, str, str]]) -> None:
    """Create every township's stream before the centre's stream sources it: a source whose stream is
    missing is retried with a backoff that reaches tens of seconds."""
    for leaf in leaves:
        township = Township(*leaf)
        await township.connect()
        await township.close()
