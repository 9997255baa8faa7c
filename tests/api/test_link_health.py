"""The county link's health: township link state and lag, node load and clock skew, one link problem.

On real nats-servers: a township's uplink (a TCP relay between its leaf and the hub) is cut and restored
while its node and the centre run on; a node whose clock is five seconds ahead is flagged. In one process
(``serve``, ``demo``) the same API shows one local township, up, with no lag.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from api.auth import AuthConfig
from api.cli.county import running_centre, running_node
from api.nats.link import Township
from api.nats.servers import NatsServer, cluster
from api.site import DEMO_PASSWORD, demo_site, load_site, seed_demo_users
from api.wiring import CountyCentre, Node
from bench.county_parts import Uplink
from models.clock import OffsetClock, SystemClock
from models.link import CameraEventReport, RunCamera
from models.link_health import TownshipHealth
from models.records import Detection, EventKind
from models.store import Store
from router.centre.links import LinkProblems
from tests.api.test_nats_link import until
from tests.rig import T0, Rig, demo_rig

EAST = "379901001"
#: Fast enough for a test: a probe every half second, a link down after two seconds without an answer.
LINK: dict[str, Any] = {"probe_s": 0.5, "down_after_s": 2.0, "skew_flag_s": 2.0}


class EmptyRoad:
    """A detector that sees nobody: cameras run and are analysed, and report no event."""

    name = "empty"
    labels = MappingProxyType({0: "person"})

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        return [[] for _ in images]


# --- serve: one local township -------------------------------------------------------------------


@pytest.fixture
async def rig(store: Store) -> Any:
    built = await demo_rig(store)
    yield built
    await built.stop()


async def test_serve_shows_one_local_township_up_with_no_lag(rig: Rig) -> None:
    client = await rig.client("admin")
    try:
        response = await client.get("/api/health/townships")
        assert response.status_code == 200, response.text
        [local] = response.json()
        assert (local["code"], local["link_up"], local["lag_messages"], local["lag_s"]) == (
            "local",
            True,
            0,
            0,
        )
        [node] = local["nodes"]
        assert node["cameras"] == len(rig.analysis.running) and node["skewed"] is False
        metrics = (await client.get("/metrics")).text
        assert 'gridwatch_link_up{township="local"} 1.0' in metrics
        assert 'gridwatch_link_lag_messages{township="local"} 0.0' in metrics
        anonymous = await rig.client()
        assert (await anonymous.get("/api/health/townships")).status_code == 401
        await anonymous.aclose()
    finally:
        await client.aclose()


async def test_a_link_problem_is_one_case_that_ends_when_the_link_is_back(rig: Rig) -> None:
    """The centre's side of a cut (router/centre/links.py) on the demo county: one case, placed in the
    township, paged to the county's 运维 duty, its log saying when the link came back; a second cut while it
    is open folds into it."""
    problems = LinkProblems(
        rig.centre.intake.report, lambda: rig.centre.routing.cameras, lambda _: EAST, rig.store.incidents.note
    )
    minutes = [T0 + timedelta(minutes=m) for m in range(30)]
    case = await problems.down(EAST, minutes[0])
    await problems.up(EAST, minutes[5])
    await problems.drained(EAST, minutes[6], 3)
    assert await problems.down(EAST, minutes[20]) == case  # cut again while the case is open: folded
    await problems.up(EAST, minutes[27])
    await problems.drained(EAST, minutes[28], 120)
    assert case is not None
    incident = await rig.store.incidents.get(case)
    assert (incident.kind, incident.department, incident.opened_at) == (EventKind.LINK_DOWN, "运维", T0)
    assert incident.unit_code.startswith(EAST) and incident.assignee_id is not None
    assert incident.event_count == 2
    events = await rig.store.incidents.events(case)
    assert [(e.started_at, e.ended_at) for e in events] == [
        (minutes[0], minutes[5]),
        (minutes[20], minutes[27]),
    ]
    notes = [e.note for e in await rig.store.incidents.log(case) if e.action == "link_restored"]
    assert notes == [
        f"乡镇 {EAST} 链路恢复 link restored after 5.0 min; 3 camera-offline reports folded into it",
        f"乡镇 {EAST} 链路恢复 link restored after 7.0 min; 120 camera-offline reports folded into it",
    ]
    # A township with no camera the centre knows has nowhere to place its problem: logged, no case.
    assert await LinkProblems(rig.centre.intake.report, lambda: (), lambda _: EAST).down(EAST, T0) is None


# --- the county: a node whose clock drifted --------------------------------------------------------


def _township(centre: CountyCentre, code: str) -> TownshipHealth:
    assert centre.monitor is not None
    [row] = [t for t in centre.monitor.townships() if t.code == code]
    return row


@pytest.mark.slow
@pytest.mark.waits
async def test_a_node_whose_clock_drifted_is_flagged_and_metrics_show_the_nodes(
    nats_server: NatsServer, store: Store
) -> None:
    site = demo_site()
    await load_site(store, replace(site, cameras=[replace(c, source="unused.avi") for c in site.cameras]))
    await seed_demo_users(store)
    clock = SystemClock()
    options: Any = {"hub_domain": None, "clip_seconds": None, "heartbeat_s": 0.3}
    drifted = running_node(
        nats_server.url, EAST, EmptyRoad(), OffsetClock(clock, 5.0), node_id="drifted", **options
    )
    async with (
        running_centre(
            nats_server.url, store, clock, AuthConfig.for_demo(), [Township(EAST)], link_options=LINK
        ) as centre,
        running_node(nats_server.url, EAST, EmptyRoad(), clock, node_id="steady", **options),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=centre.app), base_url="http://gridwatch"
        ) as client,
    ):
        token = await client.post("/api/auth/token", json={"username": "admin", "password": DEMO_PASSWORD})
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        async with drifted:

            async def both_heard() -> bool:
                nodes = _township(centre, EAST).nodes
                # Each runs the demo camera: every camera of the township, with no leases.
                return {n.node_id for n in nodes if n.cameras == 1} == {"steady", "drifted"}

            await until(both_heard, what="both nodes' heartbeats")
            nodes = {n.node_id: n for n in _township(centre, EAST).nodes}
            assert nodes["drifted"].skewed and 4.0 < nodes["drifted"].skew_s < 6.0, nodes["drifted"]
            assert not nodes["steady"].skewed and abs(nodes["steady"].skew_s) < 2.0, nodes["steady"]
            [row] = (await client.get("/api/health/townships")).json()
            assert row["code"] == EAST and row["link_up"] is True
            assert {n["node_id"]: n["skewed"] for n in row["nodes"]} == {"steady": False, "drifted": True}
            metrics = (await client.get("/metrics")).text

        # The drifted node stops: three heartbeat periods later it is taken for gone.
        async def gone() -> bool:
            return {n.node_id: n.stale for n in _township(centre, EAST).nodes} == {
                "steady": False,
                "drifted": True,
            }

        await until(gone, what="the stopped node marked gone")
        after = (await client.get("/metrics")).text
    for line in (
        f'gridwatch_link_up{{township="{EAST}"}} 1.0',
        f'gridwatch_node_cameras{{node="drifted",township="{EAST}"}} 1.0',
        f'gridwatch_node_clock_skewed{{node="drifted",township="{EAST}"}} 1.0',
        f'gridwatch_node_clock_skewed{{node="steady",township="{EAST}"}} 0.0',
        f'gridwatch_node_up{{node="drifted",township="{EAST}"}} 1.0',
    ):
        assert line in metrics, line
    for name in ("gridwatch_link_lag_messages", "gridwatch_link_lag_seconds", "gridwatch_node_load"):
        assert f'{name}{{township="{EAST}"' in metrics or f"{name}{{node=" in metrics, name
    assert f'gridwatch_node_up{{node="drifted",township="{EAST}"}} 0.0' in after
    assert f'gridwatch_node_up{{node="steady",township="{EAST}"}} 1.0' in after


# --- the county: a cut uplink is one link problem ----------------------------------------------------


def _clip(path: Path) -> None:
    """A one-second looping camera: ten small frames at 10 fps."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(10):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()


@pytest.fixture
def relayed(tmp_path: Path) -> Iterator[tuple[Any, Uplink]]:
    servers = cluster(tmp_path / "county", [EAST])
    uplink = Uplink(servers.hub.leaf_port or 0)
    servers.leaves[EAST].hub_leaf_port = uplink.port
    yield servers, uplink
    servers.stop()


async def _offline_incidents(store: Store) -> dict[str, int]:
    rows = await store.pool.fetch(
        "SELECT e.camera_id, count(DISTINCT i.id) AS n FROM incidents i "
        "JOIN events e ON e.incident_id = i.id WHERE i.kind = $1 GROUP BY e.camera_id",
        EventKind.CAMERA_OFFLINE.value,
    )
    return {r["camera_id"]: r["n"] for r in rows}


async def _count(store: Store, sql: str, *args: object) -> int:
    value: int = await store.pool.fetchval(sql, *args)
    return value


def _reported(node: Node, camera_id: str) -> bool:
    # The node's offline watch: whether it has published this camera's outage (once per outage).
    return camera_id in node.analysis._offline._raised


@pytest.mark.slow
@pytest.mark.waits
async def test_a_cut_township_is_one_link_problem_not_a_camera_offline_each(
    relayed: tuple[Any, Uplink], store: Store, tmp_path: Path
) -> None:
    servers, uplink = relayed
    await uplink.start()
    servers.start()
    clips = {i: tmp_path / f"east-{i}.avi" for i in range(1, 5)}
    for path in clips.values():
        _clip(path)
    [road] = demo_site().cameras
    cameras = [replace(road, id=f"cam-east-{i}", source=str(path)) for i, path in clips.items()]
    await load_site(store, replace(demo_site(), cameras=cameras))
    placed = {c.id: EAST for c in cameras}
    clock = SystemClock()
    townships = [Township(EAST, servers.leaves[EAST].domain)]
    node_options: Any = {"clip_seconds": None, "offline_after_s": 1.0, "heartbeat_s": 0.3}
    try:
        async with (
            running_centre(
                servers.hub.url,
                store,
                clock,
                AuthConfig.for_demo(),
                townships,
                cameras=placed,
                link_options=LINK,
            ) as centre,
            running_node(servers.leaves[EAST].url, EAST, EmptyRoad(), clock, **node_options) as node,
        ):

            async def running() -> bool:
                row = _township(centre, EAST)
                return row.link_up and any(n.cameras == 4 and not n.cameras_down for n in row.nodes)

            await until(running, timeout_s=30, what="the node running its four cameras, heard at the centre")

            async def reported(*camera_ids: str) -> bool:
                await node.analysis.check_offline()
                return all(_reported(node, c) for c in camera_ids)

            # A camera genuinely offline while the link is up raises as today.
            clips[4].unlink()
            await until(lambda: reported("cam-east-4"), what="camera 4's outage")

            async def offline(camera_id: str) -> bool:
                return camera_id in await _offline_incidents(store)

            await until(lambda: offline("cam-east-4"), what="camera 4's offline incident")

            # The uplink is cut, and the township's cameras 1 and 2 go dark with it.
            uplink.cut()

            async def link(up: bool) -> bool:
                return _township(centre, EAST).link_up is up

            await until(lambda: link(False), timeout_s=15, what="the township's link shown down")
            down = _township(centre, EAST)
            assert down.lag_s > 0  # what the township publishes now waits: the centre is behind from the cut
            clips[1].unlink()
            clips[2].unlink()
            await until(lambda: reported("cam-east-1", "cam-east-2"), what="cameras 1 and 2 reported offline")
            # Camera 3's own video-loss event (ONVIF), as its node's camera-event feed forwards it.
            await node.sink.publish(
                CameraEventReport("cam-east-3", "tns1:VideoSource/SignalLoss", True, clock.now())
            )
            # Camera 1 comes back before the link does; camera 2 stays dark.
            _clip(clips[1])
            await node.analysis.send(RunCamera(cameras[0]))
            await until(lambda: running_state(node, "cam-east-1"), what="camera 1 back")

            uplink.restore()

            async def drained() -> bool:
                row = _township(centre, EAST)
                return row.link_up and row.lag_messages == 0 and row.offline_folded == 3

            await until(drained, timeout_s=30, what="the link up and its backlog drained")
            # Camera 2, still dark once the link is back, is paged then, from its own outage's start.
            await until(lambda: offline("cam-east-2"), timeout_s=15, what="camera 2 paged after the link")
            row = _township(centre, EAST)
            assert row.lag_s == 0 and row.lag_messages == 0
    finally:
        await uplink.aclose()

    assert await _offline_incidents(store) == {"cam-east-2": 1, "cam-east-4": 1}
    kind = EventKind.LINK_DOWN.value
    assert await _count(store, "SELECT count(*) FROM incidents WHERE kind = $1", kind) == 1
    ended = "SELECT count(*) FROM events WHERE kind = $1 AND ended_at IS NOT NULL"
    assert await _count(store, ended, kind) == 1  # the link problem's event ended when the link came back
    cases = (await store.incidents.page(limit=50))[0]
    [link_case] = [i for i in cases if i.kind is EventKind.LINK_DOWN]
    [camera_case] = [i for i in cases if i.camera_id == "cam-east-4"]
    # Paged like a camera problem, to the county's 运维 duty, one severity up: a township is blind.
    assert (link_case.department, link_case.tier) == ("运维", camera_case.tier)
    assert link_case.severity > camera_case.severity
    assert link_case.assignee_id == camera_case.assignee_id and link_case.assignee_id is not None
    [restored] = [e for e in await store.incidents.log(link_case.id) if e.action == "link_restored"]
    assert f"乡镇 {EAST} 链路恢复" in (restored.note or "") and "3 camera-offline reports" in (
        restored.note or ""
    )


async def running_state(node: Node, camera_id: str) -> bool:
    view = node.analysis.live.get(camera_id)
    with contextlib.suppress(AttributeError):
        return bool(view and view.source and view.source.health.state == "online")
    return False


@pytest.mark.slow
@pytest.mark.waits
async def test_the_hub_restarting_is_no_township_link_problem(tmp_path: Path, store: Store) -> None:
    """The centre's own server away says nothing of the townships' links: no case for any of them."""
    servers = cluster(tmp_path / "county", [EAST])
    servers.start()
    try:
        await load_site(store, demo_site())
        townships = [Township(EAST, servers.leaves[EAST].domain)]
        link = {**LINK, "down_after_s": 5.0}  # the leaf redials the hub within a second of its return
        async with running_centre(
            servers.hub.url, store, SystemClock(), AuthConfig.for_demo(), townships, link_options=link
        ) as centre:
            await until(lambda: _answered(centre), what="the township's server answering")
            servers.hub.stop()
            await asyncio.sleep(link["down_after_s"] + 3)  # longer than a leaf's silence may last
            assert _township(centre, EAST).link_up
            servers.hub.start()
            await until(lambda: _answered(centre), timeout_s=30, what="the township answering again")
        kind = EventKind.LINK_DOWN.value
        assert await _count(store, "SELECT count(*) FROM incidents WHERE kind = $1", kind) == 0
    finally:
        servers.stop()


async def _answered(centre: CountyCentre) -> bool:
    row = _township(centre, EAST)
    return row.link_up and row.rtt_s is not None and row.lag_messages == 0
