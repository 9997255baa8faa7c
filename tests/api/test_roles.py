"""The two roles run apart, joined only by the event interface, and open the incident ``serve`` opens.

The analysis role runs in a thread of its own with its own event loop and no store; every message it
publishes is pickled and unpickled on its way to the centre's loop, as a message bus would carry it.
The same frames through ``build_system`` (what ``gridwatch serve`` runs) give the same incident.
"""

from __future__ import annotations

import asyncio
import pickle
import threading
from dataclasses import replace
from datetime import timedelta

import numpy as np

from api.auth import AuthConfig
from api.link import InProcessLink
from api.site import demo_site, load_site
from api.wiring import build_analysis, build_centre, build_system
from detect.analysis.analyzer import CameraAnalyzer
from detect.analysis.live import LiveView
from detect.analysis.node import AnalysisNode
from ingest.frames import Frame
from models.clock import ManualClock
from models.incidents import Incident
from models.link import AnalysisMessage, CameraCommand
from models.records import Camera
from models.store import Store
from tests.api.test_app import PeopleOnTheRoad
from tests.rig import T0

FRAMES = 30  # 15 s at 2 fps: the crowd zone's dwell time, then the clip's post-roll


class BusBridge:
    """An EventSink carrying each message, as bytes, into another thread's event loop and link."""

    def __init__(self, link: InProcessLink, loop: asyncio.AbstractEventLoop) -> None:
        self._link = link
        self._loop = loop
        self.carried: list[type] = []

    async def publish(self, message: AnalysisMessage) -> None:
        wire = pickle.dumps(message)
        arrived = pickle.loads(wire)
        self.carried.append(type(arrived))
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._link.publish(arrived), self._loop))


class NoCommands:
    """The centre's command sink: this test changes no camera, so any command is a bug."""

    async def send(self, command: CameraCommand) -> None:
        raise AssertionError(f"unexpected command {command}")


async def _analyse(node: AnalysisNode, camera: Camera) -> None:
    analyzer, view = CameraAnalyzer(camera, clips=node.clip_recorder(camera) or False), LiveView()
    image = np.full((576, 768, 3), 120, np.uint8)
    for i in range(FRAMES):
        frame = Frame(camera.id, i, T0 + timedelta(seconds=i * 0.5), image, keyframe=False)
        await node.analyse(camera, analyzer, frame, view)
    await node.stop()  # settles the clip: it crosses after its event


async def _demo(store: Store) -> Camera:
    site = demo_site()
    await load_site(store, replace(site, cameras=[replace(c, source="unused.avi") for c in site.cameras]))
    [camera] = await store.cameras.load()
    return camera


async def test_roles_apart_open_the_incident_serve_opens(store: Store, other_store: Store) -> None:
    camera = await _demo(store)
    clock = ManualClock(T0)
    link = InProcessLink()
    centre = build_centre(store, clock, NoCommands(), timezone="Asia/Shanghai")
    await centre.start(workers=False)
    centre.consume(link)
    bridge = BusBridge(link, asyncio.get_running_loop())
    analysis_thread: list[threading.Thread] = []

    def run_analysis() -> None:
        analysis_thread.append(threading.current_thread())
        node = build_analysis(bridge, PeopleOnTheRoad(), ManualClock(T0))  # type: ignore[arg-type]
        asyncio.run(_analyse(node, camera))

    await asyncio.to_thread(run_analysis)
    await link.join()
    await link.close()
    await centre.stop()
    assert analysis_thread[0] is not threading.main_thread()
    [apart] = (await store.incidents.page())[0]

    # The same frames through what `gridwatch serve` builds: both roles in one process.
    await _demo(other_store)
    system = build_system(other_store, PeopleOnTheRoad(), ManualClock(T0), AuthConfig.for_demo())
    await system.start(cameras=())
    await _analyse(system.analysis, camera)
    await system.link.join()
    await system.stop()
    [served] = (await other_store.incidents.page())[0]

    assert _owner(apart) == _owner(served)
    assert _owner(apart)[:3] == ("crowd", "379901001001001", "w001")
    # What crossed: the crowd's START, its END-less UPDATEs if any, and the clip after its event.
    [event] = await store.incidents.events(apart.id)
    assert {e.role for e in event.evidence} == {"snapshot", "clean", "clip"}
    assert bridge.carried[0].__name__ == "EventReport" and bridge.carried[-1].__name__ == "ClipReport"


def _owner(incident: Incident) -> tuple[str, str | None, str | None, str, str]:
    return (
        incident.kind.value,
        incident.grid_code,
        incident.assignee_id,
        incident.unit_code,
        incident.department,
    )
