"""The roles apart over a real nats-server: a node publishes into its township's stream, the centre's stream
sources it, the intake stores it and acks; the centre's camera registry reaches the node through the bucket.

One server here (no leaf, no domains: a small site's layout); tests/api/test_nats_county.py runs the county
layout of a hub and township leaf servers, with outages.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from api.auth import AuthConfig
from api.cli.county import running_centre, running_node
from api.nats.commands import StaticAssignment
from api.nats.link import Township
from api.nats.servers import NatsServer
from api.site import demo_site, load_site
from models.clock import ManualClock
from models.link import StopCamera
from models.store import Store
from tests.rig import T0, NoDetector, crowd_output, demo_rig
from tests.servers import free_port, run_cli

TOWNSHIP = "379901001"


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.1)


async def _demo(store: Store) -> None:
    site = demo_site()
    await load_site(store, replace(site, cameras=[replace(c, source="unused.avi") for c in site.cameras]))


async def test_node_to_centre_over_one_server(
    nats_server: NatsServer, store: Store, other_store: Store
) -> None:
    await _demo(store)
    clock = ManualClock(T0)
    townships = [Township(TOWNSHIP)]
    node_options = {"hub_domain": None, "clip_seconds": None}
    async with (
        running_centre(nats_server.url, store, clock, AuthConfig.for_demo(), townships) as centre,
        running_node(nats_server.url, TOWNSHIP, NoDetector(), clock, **node_options) as node,
    ):
        # The registry reached the node through the bucket: it runs the demo camera.
        await until(lambda: _true("cam-dongguan-road" in node.analysis.cameras), what="RunCamera")
        report = crowd_output(100)
        await node.sink.publish(report)
        await node.sink.publish(report)  # a publish retried: the stream stores it once
        await until(lambda: _has_incident(store), what="the incident")
        await until(lambda: _true(centre.stream.acked == 1), what="the ack")
        await centre.commands.send(StopCamera("cam-dongguan-road"))
        await until(lambda: _true("cam-dongguan-road" not in node.analysis.cameras), what="StopCamera")
    [apart] = (await store.incidents.page())[0]

    rig = await demo_rig(other_store)
    await rig.report(report)
    await rig.stop()
    [served] = (await other_store.incidents.page())[0]
    assert (apart.grid_code, apart.assignee_id, apart.opened_at) == (
        served.grid_code,
        served.assignee_id,
        served.opened_at,
    )
    assert apart.grid_code == "379901001001001" and apart.opened_at == T0


async def _true(value: bool) -> bool:
    return value


async def _has_incident(store: Store) -> bool:
    return (await store.incidents.page())[1] > 0


async def test_a_lease_change_moves_cameras_through_the_seam(nats_server: NatsServer, store: Store) -> None:
    """``NodeCommands.reassign`` is where a lease set plugs in: the node starts what it now owns and stops
    what it no longer does, from the bucket's registry, without the centre writing anything."""
    await _demo(store)
    clock = ManualClock(T0)
    options: Any = {"hub_domain": None, "clip_seconds": None, "cameras": ["someone-else"]}
    async with (
        running_centre(nats_server.url, store, clock, AuthConfig.for_demo(), [Township(TOWNSHIP)]),
        running_node(nats_server.url, TOWNSHIP, NoDetector(), clock, **options) as node,
    ):
        await until(lambda: _true("cam-dongguan-road" in node.commands.registry), what="the registry")
        assert node.analysis.cameras == {}
        await node.commands.reassign(StaticAssignment())
        assert set(node.analysis.cameras) == {"cam-dongguan-road"}
        await node.commands.reassign(StaticAssignment([]))
        assert node.analysis.cameras == {} and node.commands.running == set()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["centre", "--township", "a b"], "--township 'a b'"),
        (["centre", "--township", TOWNSHIP, "--camera", "cam-without-township"], "CAMERA=TOWNSHIP"),
        (["node", "--township", "x.y"], "--township 'x.y'"),
        (["node", "--township", TOWNSHIP, "--nats", "nats://127.0.0.1:{port}"], "cannot reach NATS"),
        (
            ["centre", "--township", TOWNSHIP, "--nats", "nats://127.0.0.1:{port}", "--port", "{port2}"],
            "cannot reach NATS",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], says: str) -> None:
    ports = {"port": str(free_port()), "port2": str(free_port())}
    result = run_cli(*[a.format(**ports) for a in args])
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and says in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_a_leaf_too_small_for_the_township_stream_is_said_so(tmp_path: Path) -> None:
    # A leaf whose disk (here, whose JetStream limit) is under the stream's 8 GiB: NATS's own words,
    # "insufficient storage resources available", came out as "cannot reach NATS".
    small = NatsServer("small", tmp_path / "nats", "small", max_file_store="1G")
    small.start()
    try:
        result = run_cli("node", "--township", TOWNSHIP, "--nats", small.url)
    finally:
        small.stop()
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"township {TOWNSHIP}: NATS cannot reserve 8 GiB" in lines[0], lines
    assert "max_file_store" in lines[0] and "cannot reach" not in lines[0]


async def test_a_node_waits_out_its_server_restarting(nats_server: NatsServer, store: Store) -> None:
    """The leaf beside a node restarts: the publish waits (the camera loop with it) and lands once."""
    await _demo(store)
    clock = ManualClock(T0)
    options: Any = {"hub_domain": None, "clip_seconds": None}
    async with (
        running_centre(nats_server.url, store, clock, AuthConfig.for_demo(), [Township(TOWNSHIP)]) as centre,
        running_node(nats_server.url, TOWNSHIP, NoDetector(), clock, **options) as node,
    ):
        nats_server.stop()
        publishing = asyncio.create_task(node.sink.publish(crowd_output(100)))
        await asyncio.sleep(1.5)
        assert not publishing.done()
        await asyncio.to_thread(nats_server.start)
        await asyncio.wait_for(publishing, 30)
        await until(lambda: _has_incident(store), what="the incident")
        await until(lambda: _true(centre.stream.acked == 1), what="the ack")
    assert (await store.incidents.page())[1] == 1


def test_serve_and_demo_load_no_nats_client() -> None:
    """``serve`` and ``demo`` stay one process with the in-process link: what they run imports no NATS."""
    probe = "import sys, api.cli.running, api.wiring; print(sorted(m for m in sys.modules if 'nats' in m))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_cluster_launcher_starts_a_hub_and_leaves(tmp_path: Path) -> None:
    """``python -m api.nats.servers`` (for ``./run cluster``): a hub and a leaf per township, answering."""
    command = [sys.executable, "-m", "api.nats.servers", str(tmp_path), "379901001", "379901002"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().split() for _ in range(3)]
        assert [(role, domain) for role, _, domain in lines] == [
            ("hub", "county"),
            ("leaf:379901001", "t379901001"),
            ("leaf:379901002", "t379901002"),
        ]
        for _, url, _ in lines:
            port = int(url.rsplit(":", 1)[1])
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
    assert (tmp_path / "hub" / "nats.conf").exists()


async def test_the_nodes_of_a_township_share_its_cameras_and_a_dead_ones_move_within_two_leases(
    nats_server: NatsServer,
) -> None:
    """Acceptance 3 of issue 13 through the node the command runs: two nodes share four cameras by their
    leases; one dies (no hand-back, as a crash) and the other runs all four within two lease periods; no
    camera runs on both at any sampled moment."""
    import nats

    from api.nats.commands import camera_key, ensure_commands
    from api.nats.wire import encode
    from models.link import RunCamera

    clock = ManualClock(T0)
    nc = await nats.connect(nats_server.url)
    try:
        bucket = await ensure_commands(nc.jetstream(), TOWNSHIP)
        base = demo_site().cameras[0]
        for i in range(4):
            camera = replace(base, id=f"cam-{i}", source="unused.avi")
            await bucket.put(camera_key(camera.id), encode(RunCamera(camera)))
    finally:
        await nc.close()
    options: Any = {"hub_domain": None, "clip_seconds": None, "share": True, "lease_s": 1.0}
    lease_s = options["lease_s"]
    overlaps: list[set[str]] = []
    async with (
        running_node(nats_server.url, TOWNSHIP, NoDetector(), clock, node_id="a", **options) as a,
        running_node(nats_server.url, TOWNSHIP, NoDetector(), clock, node_id="b", **options) as b,
    ):

        async def shared() -> bool:
            both = set(a.analysis.cameras) & set(b.analysis.cameras)
            if both:
                overlaps.append(both)
            return len(a.analysis.cameras) == 2 and len(b.analysis.cameras) == 2

        await until(shared, timeout_s=10 * lease_s, what="a fair share")
        # a dies: its lease renewals stop with it and nothing is handed back.
        assert a._hold is not None
        a._hold.cancel()
        died = time.monotonic()
        await a.analysis.stop()

        async def moved() -> bool:
            return len(b.analysis.cameras) == 4

        await until(moved, timeout_s=10 * lease_s, what="b taking a's cameras")
        assert time.monotonic() - died <= 2.5 * lease_s
        a.leases = None  # dead: its context's stop must not hand back what b holds now
    assert overlaps == []
