"""Camera leases across nodes on a real nats-server (JetStream on, its own store dir and port, stopped by
PID): a fair split, a joining node, a dead node, a lost lease, a network blip and a long cut, with every
start and stop of every camera on every node recorded so that no two nodes are ever found analysing the
same camera at once for longer than one lease period (by construction, not at all)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.client import JetStreamContext
from nats.js.kv import KeyValue

from api.nats.leases import LEASE_S as DEFAULT_LEASE_S
from api.nats.leases import CameraLeases, bucket_name, open_lease_bucket, token, untoken
from tests.conftest import REPO

LEASE_S = 2.0
TOWNSHIP = "城关镇"
CAMERAS = [f"cam-{i:02d}" for i in range(10)]
NATS_SERVER = REPO / ".venv" / "bin" / "nats-server"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def nats_url(tmp_path: Path) -> Iterator[str]:
    """A nats-server with JetStream on a free loopback port, its store in the test's tmp dir."""
    port = _free_port()
    proc = subprocess.Popen(
        [str(NATS_SERVER), "-js", "-sd", str(tmp_path / "js"), "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            assert proc.poll() is None and time.monotonic() < deadline, "nats-server did not start"
            time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


async def _connect(url: str) -> NATS:
    # A node reconnects quickly: a blip must not last longer for the client than it did on the wire.
    return await nats.connect(url, reconnect_time_wait=0.1, max_reconnect_attempts=-1, connect_timeout=1)


@dataclass
class Bucket:
    """The township's lease bucket on one connection, for tests of a lone node."""

    js: JetStreamContext
    kv: KeyValue

    def node(self, cameras: list[str] = CAMERAS, lease_s: float = LEASE_S) -> CameraLeases:
        return CameraLeases(self.kv, "node-x", TOWNSHIP, cameras, lease_s=lease_s)


@pytest.fixture
async def bucket(nats_url: str) -> AsyncIterator[Bucket]:
    nc = await _connect(nats_url)
    try:
        js = nc.jetstream()
        yield Bucket(js, await open_lease_bucket(js, TOWNSHIP, lease_s=LEASE_S))
    finally:
        await nc.close()


@dataclass
class Holder:
    """One node: every start and stop of a camera it was told, and when it died."""

    name: str
    log: list[tuple[float, str, str]] = field(default_factory=list)
    analysing: set[str] = field(default_factory=set)
    died: float | None = None

    def acquire(self, camera: str, at: float | None = None) -> None:
        assert camera not in self.analysing
        self.analysing.add(camera)
        self.log.append((time.monotonic() if at is None else at, "start", camera))

    def release(self, camera: str, at: float | None = None) -> None:
        assert camera in self.analysing
        self.analysing.discard(camera)
        self.log.append((time.monotonic() if at is None else at, "stop", camera))

    def intervals(self) -> dict[str, list[tuple[float, float]]]:
        """When this node analysed each camera; a dead node analyses nothing from its death on."""
        end_of_life = self.died if self.died is not None else time.monotonic()
        out: dict[str, list[tuple[float, float]]] = {}
        started: dict[str, float] = {}
        for at, what, camera in self.log:
            if what == "start":
                started[camera] = at
            else:
                out.setdefault(camera, []).append((started.pop(camera), at))
        for camera, at in started.items():
            out.setdefault(camera, []).append((at, end_of_life))
        return out


@dataclass
class TaskHolder(Holder):
    """A node in this process: its leases run as a task on its own connection."""

    nc: NATS | None = None
    leases: CameraLeases | None = None
    task: asyncio.Task[None] | None = None


@dataclass
class ProcessHolder(Holder):
    """A node in a process of its own (tests/api/lease_holder.py): starts and stops read from its output."""

    proc: asyncio.subprocess.Process | None = None
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for line in self.proc.stdout:
            what, camera, at = line.decode().split()
            (self.acquire if what == "start" else self.release)(camera, float(at))


class Township:
    def __init__(self, url: str, lease_s: float = LEASE_S) -> None:
        self.url = url
        self.lease_s = lease_s
        self.holders: list[Holder] = []

    async def join(self, name: str, url: str | None = None) -> TaskHolder:
        nc = await _connect(url or self.url)
        kv = await open_lease_bucket(nc.jetstream(), TOWNSHIP, lease_s=self.lease_s)
        leases = CameraLeases(kv, name, TOWNSHIP, CAMERAS, lease_s=self.lease_s)
        holder = TaskHolder(name, nc=nc, leases=leases)
        holder.task = asyncio.create_task(leases.run(holder.acquire, holder.release))
        self.holders.append(holder)
        return holder

    async def spawn(self, name: str) -> ProcessHolder:
        argv = [self.url, name, TOWNSHIP, str(self.lease_s), *CAMERAS]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.api.lease_holder", *argv, cwd=REPO, stdout=asyncio.subprocess.PIPE
        )
        holder = ProcessHolder(name, proc=proc)
        holder.reader = asyncio.create_task(holder.read())
        self.holders.append(holder)
        return holder

    async def kill(self, holder: Holder) -> None:
        """As a crash: nothing is released. A process gets SIGKILL by its PID; a task is cancelled and its
        connection dropped."""
        if isinstance(holder, ProcessHolder):
            assert holder.proc is not None and holder.reader is not None
            os.kill(holder.proc.pid, signal.SIGKILL)
            holder.died = time.monotonic()
            await holder.proc.wait()
            await holder.reader
            return
        assert isinstance(holder, TaskHolder) and holder.task is not None and holder.nc is not None
        holder.died = time.monotonic()
        holder.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await holder.task
        with contextlib.suppress(Exception):  # a connection the test cut may fail to close cleanly
            await holder.nc.close()

    def alive(self) -> list[Holder]:
        return [h for h in self.holders if h.died is None]

    def shares(self) -> dict[str, set[str]]:
        return {h.name: set(h.analysing) for h in self.alive()}

    def worst_overlap(self) -> float:
        """The longest time any two nodes analysed one camera at once, over the whole test."""
        worst = 0.0
        spans = [h.intervals() for h in self.holders]
        for i, mine in enumerate(spans):
            for theirs in spans[i + 1 :]:
                for camera, ours in mine.items():
                    for a0, a1 in ours:
                        for b0, b1 in theirs.get(camera, []):
                            worst = max(worst, min(a1, b1) - max(a0, b0))
        return worst

    async def until(self, check: Callable[[], bool], within: float) -> float:
        """Seconds until ``check`` holds, failing past ``within``."""
        start = time.monotonic()
        while not check():
            assert time.monotonic() - start < within, f"not within {within} s: {self.shares()}"
            await asyncio.sleep(0.02)
        return time.monotonic() - start

    def fair(self) -> bool:
        shares = self.shares()
        sizes = [len(s) for s in shares.values()]
        covered = [c for s in shares.values() for c in s]
        return sorted(covered) == CAMERAS and max(sizes) - min(sizes) <= 1


@pytest.fixture
async def township(nats_url: str) -> AsyncIterator[Township]:
    town = Township(nats_url)
    yield town
    for holder in town.alive():
        await town.kill(holder)


def test_ids_become_key_tokens_and_back() -> None:
    for name in ("cam-01", "城关镇", "a.b", "x_y", "_"):
        assert untoken(token(name)) == name
    assert token("cam-01") == "cam-01"
    assert token("a.b") != token("a-b")
    assert bucket_name(TOWNSHIP).startswith("gw_leases_") and "." not in bucket_name(TOWNSHIP)


@pytest.mark.slow
@pytest.mark.waits
async def test_nodes_split_the_cameras_fairly_and_a_joining_node_takes_a_share(township: Township) -> None:
    await township.join("node-a")
    await township.join("node-b")
    await township.until(township.fair, within=3 * LEASE_S)
    assert sorted(len(s) for s in township.shares().values()) == [5, 5]

    await township.join("node-c")
    took = await township.until(lambda: township.fair() and len(township.shares()) == 3, within=3 * LEASE_S)
    assert sorted(len(s) for s in township.shares().values()) == [3, 3, 4]
    # The others let go first and the newcomer takes at its next tick: a tick or two, not a lease lapse.
    assert took < LEASE_S
    assert township.worst_overlap() == 0.0


@pytest.mark.slow
@pytest.mark.waits
async def test_a_dead_node_s_cameras_move_to_the_others_within_the_lease_scale(township: Township) -> None:
    for name in ("node-a", "node-b", "node-c"):
        await township.join(name)
    await township.until(lambda: township.fair() and len(township.shares()) == 3, within=3 * LEASE_S)
    victim = township.holders[1]
    orphaned = set(victim.analysing)
    assert orphaned

    await township.kill(victim)
    moved = await township.until(township.fair, within=15)  # the 30 s, scaled to a 2 s lease
    # A lease lapses LEASE_S after its last renewal, then the next tick of a survivor takes it.
    assert LEASE_S * 0.5 < moved < 2 * LEASE_S
    assert sorted(len(s) for s in township.shares().values()) == [5, 5]
    assert township.worst_overlap() == 0.0


@pytest.mark.slow
@pytest.mark.waits
async def test_with_the_default_lease_a_dead_node_s_cameras_move_within_30_s(nats_url: str) -> None:
    township = Township(nats_url, lease_s=DEFAULT_LEASE_S)
    try:
        await township.join("node-a")
        victim = await township.join("node-b")
        await township.until(township.fair, within=2 * DEFAULT_LEASE_S)
        await township.kill(victim)
        moved = await township.until(township.fair, within=30)
        assert moved < 1.5 * DEFAULT_LEASE_S < 30
        assert township.worst_overlap() == 0.0
    finally:
        for holder in township.alive():
            await township.kill(holder)


async def test_a_node_told_another_period_uses_the_bucket_s(bucket: Bucket) -> None:
    # A second node configured otherwise finds the bucket there already: the bucket's TTL rules.
    kv = await open_lease_bucket(bucket.js, TOWNSHIP, lease_s=30.0)
    node = CameraLeases(kv, "node-x", TOWNSHIP, CAMERAS, lease_s=30.0)
    started: list[str] = []
    task = asyncio.create_task(node.run(started.append, started.remove))
    await asyncio.sleep(0.5)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert node.lease_s == LEASE_S
    assert sorted(started) == CAMERAS


async def test_a_write_whose_answer_was_lost_is_adopted_not_waited_out(bucket: Bucket) -> None:
    node = bucket.node(CAMERAS[:2])
    # The server stored this node's take of cam-00, but the answer never came back (a timeout).
    await bucket.kv.create(f"camera.{token('cam-00')}", node._value)
    # Another node's live lease on cam-01 is not adopted: it is waited out.
    await bucket.kv.create(f"camera.{token('cam-01')}", b'{"node": "node-y", "session": "other"}')
    started: list[str] = []
    node._on_acquire = started.append
    assert await node.tick()
    assert started == ["cam-00"] and node.held == {"cam-00"}


async def test_a_cancel_that_lands_as_the_server_answers_is_not_swallowed(bucket: Bucket) -> None:
    node = bucket.node()
    answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def request() -> int:
        return await answer

    guarded = asyncio.create_task(node._guarded(request()))
    await asyncio.sleep(0)
    # The answer and the cancel in one turn of the loop: Python 3.11's wait_for returned the answer.
    answer.set_result(7)
    guarded.cancel()
    with pytest.raises(asyncio.CancelledError):
        await guarded


async def test_a_cancel_swallowed_below_the_lease_loop_still_ends_it(bucket: Bucket) -> None:
    node = bucket.node(CAMERAS[:1])
    starting = asyncio.Event()

    async def start_that_eats_a_cancel(camera: str) -> None:
        starting.set()
        with contextlib.suppress(asyncio.CancelledError):  # as a library's own wait_for may
            await asyncio.sleep(1)

    task = asyncio.create_task(node.run(start_that_eats_a_cancel, lambda camera: None))
    await asyncio.wait_for(starting.wait(), 5)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert done == {task} and task.cancelled(), "the lease loop ran on after cancel()"


async def test_a_node_s_membership_reads_do_not_pile_up_consumers_on_the_server(bucket: Bucket) -> None:
    node = bucket.node()
    for _ in range(30):  # each tick reads the members through a watch of the node keys
        assert await node.tick()
    # The server allows a stream about a thousand consumers; a watch's used to stay five minutes.
    stream = f"KV_{bucket_name(TOWNSHIP)}"
    deadline = time.monotonic() + 3 * LEASE_S
    while (count := (await bucket.js.stream_info(stream)).state.consumer_count) > 2:
        assert time.monotonic() < deadline, f"{count} consumers left after 30 ticks"
        await asyncio.sleep(0.1)


@pytest.mark.slow
@pytest.mark.waits
async def test_a_node_process_killed_by_sigkill_loses_its_cameras_to_the_others(township: Township) -> None:
    await township.join("node-a")
    victim = await township.spawn("node-p")
    await township.join("node-b")
    # The process needs its interpreter to start: allow it more than a tick.
    await township.until(lambda: township.fair() and len(township.shares()) == 3, within=20)
    assert victim.analysing

    await township.kill(victim)
    moved = await township.until(township.fair, within=15)
    assert moved < 2 * LEASE_S
    assert sorted(len(s) for s in township.shares().values()) == [5, 5]
    assert township.worst_overlap() == 0.0


@pytest.mark.slow
@pytest.mark.waits
async def test_a_node_that_leaves_hands_over_at_once(township: Township) -> None:
    a = await township.join("node-a")
    await township.join("node-b")
    await township.until(township.fair, within=3 * LEASE_S)
    assert a.task is not None and a.leases is not None and a.nc is not None
    a.task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await a.task
    await a.leases.leave()
    assert a.analysing == set()
    a.died = time.monotonic()
    await a.nc.close()
    took = await township.until(township.fair, within=3 * LEASE_S)
    assert took < LEASE_S / 2  # released, not lapsed
    assert township.worst_overlap() == 0.0


@pytest.mark.slow
@pytest.mark.waits
async def test_a_node_whose_lease_moved_on_stops_that_camera_at_once(township: Township) -> None:
    a = await township.join("node-a")
    await township.until(lambda: len(a.analysing) == len(CAMERAS), within=3 * LEASE_S)
    assert a.nc is not None and a.leases is not None
    kv: KeyValue = await a.nc.jetstream().key_value(bucket_name(TOWNSHIP))
    # Someone else's write (an operator, or a node that took a lapsed lease) moves the revision on.
    await kv.put(f"camera.{token('cam-03')}", b'{"node": "intruder"}')
    await township.until(lambda: "cam-03" not in a.analysing, within=LEASE_S / 2)
    assert a.leases.held == frozenset(CAMERAS) - {"cam-03"}


class Cable:
    """A TCP relay between one node and the server that the test can cut and mend."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = _free_port()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def mend(self) -> None:
        self.server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()
        await self.server.wait_closed()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers |= {writer, up_writer}

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))


@pytest.fixture
async def cable(nats_url: str) -> AsyncIterator[Cable]:
    relay = Cable(int(nats_url.rsplit(":", 1)[1]))
    await relay.mend()
    yield relay
    if relay.server is not None:
        relay.server.close()
    for writer in relay.writers:
        writer.transport.abort()


@pytest.mark.slow
@pytest.mark.waits
async def test_a_blip_shorter_than_the_lease_keeps_every_lease(township: Township, cable: Cable) -> None:
    a = await township.join("node-a", url=f"nats://127.0.0.1:{cable.port}")
    await township.join("node-b")
    await township.until(township.fair, within=3 * LEASE_S)
    before = township.shares()
    log_length = {h.name: len(h.log) for h in township.holders}

    await cable.cut()
    await asyncio.sleep(0.5 * LEASE_S)
    await cable.mend()
    await township.until(lambda: a.nc is not None and a.nc.is_connected, within=LEASE_S)
    await asyncio.sleep(LEASE_S)  # renewals resumed; nothing lapsed behind them

    assert township.shares() == before
    assert {h.name: len(h.log) for h in township.holders} == log_length  # no camera stopped or started


@pytest.mark.slow
@pytest.mark.waits
async def test_a_node_cut_off_longer_stops_before_its_cameras_move(township: Township, cable: Cable) -> None:
    a = await township.join("node-a", url=f"nats://127.0.0.1:{cable.port}")
    b = await township.join("node-b")
    await township.until(township.fair, within=3 * LEASE_S)
    cut_off = set(a.analysing)

    await cable.cut()
    # node-a stops its cameras by its own clock; node-b takes them once their leases lapse on the server.
    await township.until(lambda: b.analysing == set(CAMERAS), within=3 * LEASE_S)
    assert a.analysing == set()
    stopped = {camera: at for at, what, camera in a.log if what == "stop"}
    started = {camera: at for at, what, camera in b.log if what == "start" and camera in cut_off}
    assert all(stopped[camera] < started[camera] for camera in cut_off)
    assert township.worst_overlap() == 0.0

    await cable.mend()  # back: node-a takes its share again, from node-b's hands
    await township.until(lambda: township.fair() and bool(a.analysing), within=4 * LEASE_S)
    assert township.worst_overlap() == 0.0
