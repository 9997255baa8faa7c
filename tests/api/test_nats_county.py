"""The county layout on real nats-servers: a hub (the centre's domain) and two township leaf servers, each
with its own JetStream domain and file-backed stream, the centre's stream sourcing both across domains.

Acceptance 1 of issue 13: two nodes on file cameras, one per township, open the incident ``serve`` opens.
Acceptance 2: a township cut from the hub while ten minutes of scripted events are captured, and the centre
restarted mid-flow: every event arrives once, no incident twice, incidents opened at capture times with
deadlines from them, exactly as one process stores the same events.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from api.auth import AuthConfig
from api.cli.county import running_centre, running_node
from api.nats.link import CENTRE_STREAM, CLIP_INLINE_MAX, INTAKE_CONSUMER, Township
from api.nats.servers import Cluster, cluster
from api.site import demo_site, load_site
from api.wiring import Node, build_system
from bench.county_parts import Uplink
from models.clock import ManualClock, SystemClock
from models.incidents import Incident
from models.link import AnalysisMessage, ClipReport, EventReport
from models.records import EventPhase, EvidenceBlob
from models.store import Store
from tests.api.test_app import PeopleOnTheRoad
from tests.api.test_nats_link import until
from tests.rig import T0, NoDetector, crowd_output, demo_rig
from tests.router.demo_data import on_duty
from tests.system.test_pg_restart import Server

pytestmark = [pytest.mark.slow, pytest.mark.waits]

EAST, WEST = "379901001", "379901002"


@pytest.fixture
def county(tmp_path: Path) -> Iterator[Cluster]:
    servers = cluster(tmp_path / "county", [EAST, WEST])
    servers.start()
    yield servers
    servers.stop()


def _townships(servers: Cluster) -> list[Township]:
    return [Township(code, leaf.domain) for code, leaf in servers.leaves.items()]


async def _count(store: Store, sql: str) -> int:
    value: int = await store.pool.fetchval(sql)
    return value


def _owners(incidents: list[Incident]) -> list[tuple[object, ...]]:
    return sorted(
        (i.kind.value, i.grid_code, i.assignee_id, i.unit_code, i.department, i.event_count)
        for i in incidents
    )


async def test_two_township_nodes_open_what_serve_opens(
    county: Cluster, store: Store, other_store: Store, vtest: Path
) -> None:
    site = demo_site()
    [road] = [replace(c, source=str(vtest)) for c in site.cameras]
    cameras = [road, replace(road, id="cam-west-road", name="西关路口")]
    await load_site(store, replace(site, cameras=cameras))
    clock = SystemClock()
    placed = {road.id: EAST, "cam-west-road": WEST}
    people: Any = PeopleOnTheRoad()  # a scripted detector: six people on the road in every frame
    townships, auth = _townships(county), AuthConfig.for_demo()
    async with (
        running_centre(county.hub.url, store, clock, auth, townships, cameras=placed),
        running_node(county.leaves[EAST].url, EAST, people, clock) as east,
        running_node(county.leaves[WEST].url, WEST, people, clock) as west,
    ):
        await until(lambda: _clips(store, 2), timeout_s=60, what="both cameras' events and clips")
        assert set(east.analysis.cameras) == {road.id} and set(west.analysis.cameras) == {"cam-west-road"}
    apart = (await store.incidents.page())[0]

    await load_site(other_store, replace(site, cameras=cameras))
    system = build_system(other_store, people, clock, auth)
    await system.start()
    try:
        await until(lambda: _clips(other_store, 2), timeout_s=60, what="serve's events and clips")
    finally:
        await system.stop()
    served = (await other_store.incidents.page())[0]
    assert _owners(apart) == _owners(served)
    # The real clock runs: the demo roster's day worker or its night one, by when the incident opened.
    grid = "379901001001001"
    assert _owners(apart)[0][:3] == ("crowd", grid, on_duty(apart[0].opened_at)[grid])


async def _clips(store: Store, events: int) -> bool:
    clips = await _count(store, "SELECT count(DISTINCT event_id) FROM evidence WHERE role = 'clip'")
    return clips >= events


def _script(count: int, span: timedelta) -> list[list[AnalysisMessage]]:
    """``count`` crowd episodes captured over ``span``: START, UPDATE, END and a clip each; every fifth clip
    too big to travel with its message (it goes through the township's object store)."""
    episodes: list[list[AnalysisMessage]] = []
    for i in range(count):
        at = T0 + span * i / count
        start = crowd_output(40 + 17 * i % 600)
        event = replace(start.event, started_at=at, id=uuid.uuid4())
        size = CLIP_INLINE_MAX + 1000 if i % 5 == 0 else 2000
        data = bytes([i % 256]) * size
        clip = EvidenceBlob("clip", "video/mp4", hashlib.sha256(data).hexdigest(), data)
        episodes.append(
            [
                replace(start, event=event),
                EventReport(EventPhase.UPDATE, replace(event, person_count=6)),
                EventReport(
                    EventPhase.END, replace(event, person_count=6, ended_at=at + timedelta(seconds=8))
                ),
                ClipReport(event.id, clip),
            ]
        )
    return episodes


async def test_a_cut_township_and_a_restarted_centre_lose_and_double_nothing(
    county: Cluster, store: Store, other_store: Store
) -> None:
    site = demo_site()
    await load_site(store, replace(site, cameras=[replace(c, source="unused.avi") for c in site.cameras]))
    clock = ManualClock(T0)
    episodes = _script(40, timedelta(minutes=10))
    townships, auth = _townships(county), AuthConfig.for_demo()

    async def publish(node_sink: object, chunk: list[list[AnalysisMessage]]) -> None:
        for episode in chunk:
            for message in episode:
                await node_sink.publish(message)  # type: ignore[attr-defined]

    async with running_node(county.leaves[EAST].url, EAST, NoDetector(), clock, clip_seconds=None) as node:
        async with running_centre(county.hub.url, store, clock, auth, townships) as centre:
            await publish(node.sink, episodes[:10])
            await until(lambda: _events(store, 10), what="the first ten events")
            await publish(node.sink, episodes[10:20])  # the centre stops with these in flight
        county.hub.stop()  # the uplink is down: the township's leaf keeps what its node publishes
        # A node (re)starting meanwhile finds its cameras in the leaf's mirror of the command bucket.
        async with running_node(
            county.leaves[EAST].url, EAST, NoDetector(), clock, clip_seconds=None
        ) as late:
            await until(lambda: _running(late, "cam-dongguan-road"), what="the camera from the mirror")
        await publish(node.sink, episodes[20:35])
        await publish(node.sink, episodes[25:27])  # a node retrying after a lost PubAck: stored once
        stored_while_cut = await _count(store, "SELECT count(*) FROM events")
        county.hub.start()
        async with running_centre(county.hub.url, store, clock, auth, townships) as centre:
            await publish(node.sink, episodes[35:])
            await until(lambda: _events(store, 40), timeout_s=60, what="all forty events")
            await until(lambda: _clips(store, 40), timeout_s=60, what="all forty clips")
            info = await centre.stream._js.consumer_info(CENTRE_STREAM, INTAKE_CONSUMER)
            await until(lambda: _settled(centre), what="every message acked")
    assert stored_while_cut <= 20

    # The same script through one process: the incidents it opens are the ones to expect.
    rig = await demo_rig(other_store)
    for episode in episodes:
        for message in episode:
            await rig.centre.intake.handle(message)
    await rig.stop()
    expected = (await other_store.incidents.page(limit=100))[0]
    got = (await store.incidents.page(limit=100))[0]

    assert await _count(store, "SELECT count(*) FROM events") == 40
    assert await _count(store, "SELECT count(*) FROM evidence") == 40 * 3  # snapshot, clean, clip each
    assert _timeline(got) == _timeline(expected)
    assert sum(i.event_count for i in got) == 40
    # Opened at capture time, deadlines from it: nothing took the hour of its arrival.
    assert min(i.opened_at for i in got) == T0
    assert all(i.opened_at <= T0 + timedelta(minutes=10) for i in got)
    assert info.num_pending == 0


def _timeline(incidents: list[Incident]) -> list[tuple[object, ...]]:
    return sorted(
        (i.opened_at, i.grid_code, i.assignee_id, i.event_count, i.accept_by, i.resolve_by, i.state.value)
        for i in incidents
    )


async def _events(store: Store, count: int) -> bool:
    return await _count(store, "SELECT count(*) FROM events") >= count


async def _settled(centre: object) -> bool:
    info = await centre.stream._js.consumer_info(CENTRE_STREAM, INTAKE_CONSUMER)  # type: ignore[attr-defined]
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


_ = asyncio


async def _running(node: Node, camera_id: str) -> bool:
    return camera_id in node.analysis.cameras


async def test_postgres_killed_during_the_flow_loses_and_doubles_nothing(
    county: Cluster, other_store: Store
) -> None:
    """The centre's database dies mid-flow, the centre is restarted, the database comes back: what the
    intake could not commit it did not ack, the stream redelivers it, and the store's keys refuse what had
    been committed already; incidents open as one process opens them."""
    root = Path(tempfile.mkdtemp(prefix="gridwatch-nats-pg-"))
    server = Server(root)  # its own server: killing the shared one would break the other tests
    store = await Store.connect(server.db.url, max_size=4)
    try:
        site = demo_site()
        await load_site(store, replace(site, cameras=[replace(c, source="unused.avi") for c in site.cameras]))
        clock = ManualClock(T0)
        episodes = _script(30, timedelta(minutes=10))
        node_options: Any = {"clip_seconds": None}
        auth, townships = AuthConfig.for_demo(), _townships(county)
        async with running_node(county.leaves[EAST].url, EAST, NoDetector(), clock, **node_options) as node:
            async with running_centre(county.hub.url, store, clock, auth, townships):
                for episode in episodes[:2]:
                    for message in episode:
                        await node.sink.publish(message)
                server.kill()
                for episode in episodes[2:]:
                    for message in episode:
                        await node.sink.publish(message)
                await asyncio.sleep(8)  # past the writer's retries: the intake naks, the stream redelivers
            # The centre stops during the outage (what it holds is nakked, not acked); a new one takes over
            # once the database is back.
            server.start()
            async with running_centre(county.hub.url, store, clock, auth, townships) as centre:
                await until(lambda: _events(store, 30), timeout_s=90, what="all thirty events")
                await until(lambda: _clips(store, 30), timeout_s=60, what="all thirty clips")
                await until(lambda: _settled(centre), what="every message acked")
        assert await _count(store, "SELECT count(*) FROM events") == 30
        assert await _count(store, "SELECT count(*) FROM evidence") == 30 * 3
        assert await _count(store, "SELECT sum(event_count) FROM incidents") == 30
        duplicated = (
            "SELECT count(*) FROM (SELECT dedup_key FROM incidents GROUP BY dedup_key HAVING count(*) > 1) d"
        )
        assert await _count(store, duplicated) == 0
        got = (await store.incidents.page(limit=100))[0]
        rig = await demo_rig(other_store)  # the same script through one process, its database untouched
        for message in (m for episode in episodes for m in episode):
            await rig.centre.intake.handle(message)
        await rig.stop()
        expected = (await other_store.incidents.page(limit=100))[0]
        # What one process opens: events the outage cut off are committed in redelivery order, and one
        # captured before its incident's opening moves it back, so every incident opens at the earliest
        # capture time of its events, with its deadlines and assignee from then.
        assert _shape(got) == _shape(expected)
        assert _timeline(got) == _timeline(expected)
        for incident in got:
            events = await store.incidents.events(incident.id)
            assert incident.opened_at == min(e.started_at for e in events)
        assert await _episodes(store) == await _episodes(other_store)
    finally:
        await store.close()
        server.db.close()
        shutil.rmtree(root, ignore_errors=True)


async def _episodes(store: Store) -> list[tuple[object, ...]]:
    """Each event as its later phases left it: an UPDATE or END lost on the way would show here."""
    rows = await store.pool.fetch("SELECT started_at, ended_at, person_count FROM events ORDER BY started_at")
    return [tuple(r.values()) for r in rows]


async def test_a_cut_uplink_with_both_roles_running_loses_and_doubles_nothing(
    tmp_path: Path, store: Store, other_store: Store
) -> None:
    """The township's leaf loses the hub while the node and the centre run on, connected to their own
    servers: ten minutes of captured events wait on the leaf and arrive once when the uplink is back."""
    servers = cluster(tmp_path / "county", [EAST])
    uplink = Uplink(servers.hub.leaf_port or 0)
    await uplink.start()
    servers.leaves[EAST].hub_leaf_port = uplink.port
    servers.start()
    try:
        site = demo_site()
        await load_site(store, replace(site, cameras=[replace(c, source="unused.avi") for c in site.cameras]))
        clock = ManualClock(T0)
        episodes = _script(30, timedelta(minutes=10))
        node_options: Any = {"clip_seconds": None}
        async with (
            running_node(servers.leaves[EAST].url, EAST, NoDetector(), clock, **node_options) as node,
            running_centre(
                servers.hub.url, store, clock, AuthConfig.for_demo(), _townships(servers)
            ) as centre,
        ):
            for message in (m for episode in episodes[:5] for m in episode):
                await node.sink.publish(message)
            await until(lambda: _events(store, 5), what="the first five events")
            uplink.cut()
            for message in (m for episode in episodes[5:] for m in episode):
                await node.sink.publish(message)  # the leaf acks: the node never waits for the uplink
            await asyncio.sleep(3)
            assert await _count(store, "SELECT count(*) FROM events") == 5
            uplink.restore()
            await until(lambda: _events(store, 30), timeout_s=60, what="the events held on the leaf")
            await until(lambda: _clips(store, 30), timeout_s=60, what="their clips")
            await until(lambda: _settled(centre), what="every message acked")
    finally:
        servers.stop()
        await uplink.aclose()

    rig = await demo_rig(other_store)
    for message in (m for episode in episodes for m in episode):
        await rig.centre.intake.handle(message)
    await rig.stop()
    expected = (await other_store.incidents.page(limit=100))[0]
    got = (await store.incidents.page(limit=100))[0]
    assert await _count(store, "SELECT count(*) FROM evidence") == 30 * 3
    assert _timeline(got) == _timeline(expected)
    assert sum(i.event_count for i in got) == 30


def _shape(incidents: list[Incident]) -> list[tuple[object, ...]]:
    """What an incident is, less when it opened: owner, size, and its deadlines' offsets from its opening."""
    return sorted(
        (
            i.grid_code,
            i.assignee_id,
            i.event_count,
            i.state.value,
            i.accept_by - i.opened_at if i.accept_by else None,
            i.resolve_by - i.opened_at if i.resolve_by else None,
        )
        for i in incidents
    )
