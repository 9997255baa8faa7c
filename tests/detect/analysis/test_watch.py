"""The analysis node judges a resolved incident's zone rule: clear, still there, or unable to tell."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest

from api.wiring import build_analysis
from detect.analysis.analyzer import CameraAnalyzer
from detect.analysis.live import LiveView
from detect.analysis.node import AnalysisNode
from detect.analysis.watch import GRACE_MARGIN_S, ZoneWatch
from ingest.frames import Frame
from ingest.health import CameraHealth, CameraState
from models.clock import ManualClock
from models.link import AnalysisMessage, RunCamera, StopCamera, WatchZone, ZoneReport, ZoneVerdict
from models.records import Camera, Detection, EventKind, Mount, Zone, ZoneKind

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
WHOLE = ((0.0, 0.0), (640.0, 0.0), (640.0, 480.0), (0.0, 480.0))
SQUARE = Zone("square", ZoneKind.CROWD, WHOLE, min_persons=5, min_seconds=1.0, cooldown_seconds=2.0)
WINDOW_S = 20.0
GRACE_S = SQUARE.cooldown_seconds + GRACE_MARGIN_S


class Scripted:
    """Six people in the square while ``crowd`` is set, nobody otherwise."""

    name = "scripted"
    labels: Mapping[int, str] = {0: "person"}

    def __init__(self) -> None:
        self.crowd = True

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        people = [Detection((x, 100.0, x + 30.0, 200.0), 0.9, "person", 0) for x in range(50, 590, 90)]
        return [list(people) if self.crowd else [] for _ in images]


class Published:
    def __init__(self) -> None:
        self.messages: list[AnalysisMessage] = []

    @property
    def answers(self) -> list[ZoneReport]:
        return [m for m in self.messages if isinstance(m, ZoneReport)]

    async def publish(self, message: AnalysisMessage) -> None:
        self.messages.append(message)


CAMERA = Camera("cam-1", "test", "missing.avi", (640, 480), Mount((118.63, 35.79)), zones=(SQUARE,))


class Fed:
    def __init__(self) -> None:
        self.detector = Scripted()
        self.sink = Published()
        self.clock = ManualClock(T0)
        self.node: AnalysisNode = build_analysis(self.sink, self.detector, self.clock, clip_seconds=None)  # type: ignore[arg-type]
        self.analyzer = CameraAnalyzer(CAMERA, clips=False)
        self.view = LiveView()
        self.index = 0

    async def frames(self, seconds: float, *, until_answer: bool = True) -> list[ZoneReport]:
        """Analyse 2 frames a second for ``seconds`` (stopping at the first answer); returns the answers."""
        image = np.full((480, 640, 3), 90, np.uint8)
        for _ in range(round(seconds * 2)):
            at = self.clock.advance(0.5)
            frame = Frame(CAMERA.id, self.index, at, image, keyframe=False)
            self.index += 1
            await self.node.analyse(CAMERA, self.analyzer, frame, self.view)
            if until_answer and self.sink.answers:
                break
        return self.sink.answers

    async def watch(self, incident_id: uuid.UUID | None = None, zone: str = "square") -> WatchZone:
        command = WatchZone(
            uuid.uuid4(), incident_id or uuid.uuid4(), CAMERA.id, zone, EventKind.CROWD, WINDOW_S
        )
        await self.node.send(command)
        return command


@pytest.fixture
async def fed() -> Fed:
    f = Fed()
    await f.frames(5, until_answer=False)  # the crowd has stood for long enough: an episode is open
    assert f.analyzer.is_open("square", EventKind.CROWD)
    return f


def test_an_episode_open_at_resolution_gets_the_rules_own_hysteresis_to_end() -> None:
    command = WatchZone(uuid.uuid4(), uuid.uuid4(), "c", "z", EventKind.CROWD, 30.0)
    watch = ZoneWatch(command, cooldown_s=10.0)

    def at(s: float) -> datetime:
        return T0 + timedelta(seconds=s)

    assert watch.observe(at(0), started=False, open_=True) is None
    assert watch.observe(at(14.5), started=False, open_=True) is None  # cooldown + margin not over yet
    assert watch.observe(at(15), started=False, open_=True) is ZoneVerdict.PRESENT
    assert ZoneWatch(command, 10.0).observe(at(0), started=True, open_=True) is ZoneVerdict.PRESENT
    clear = ZoneWatch(command, 10.0)
    assert clear.observe(at(0), started=False, open_=False) is None
    assert clear.observe(at(29.5), started=False, open_=False) is None
    assert clear.observe(at(30), started=False, open_=False) is ZoneVerdict.CLEAR


async def test_people_who_stay_are_reported_with_a_fresh_snapshot(fed: Fed) -> None:
    command = await fed.watch()
    began = fed.clock.now()
    [answer] = await fed.frames(WINDOW_S)
    assert (answer.watch_id, answer.incident_id, answer.verdict) == (
        command.watch_id,
        command.incident_id,
        ZoneVerdict.PRESENT,
    )
    assert GRACE_S <= (answer.at - began).total_seconds() <= GRACE_S + 1.0
    assert answer.snapshot is not None and answer.snapshot.media_type == "image/jpeg"
    assert cv2.imdecode(np.frombuffer(answer.snapshot.data, np.uint8), cv2.IMREAD_COLOR).shape == (
        480,
        640,
        3,
    )
    assert not fed.node.watches.on(CAMERA.id)


async def test_a_zone_that_clears_is_reported_clear_only_after_the_whole_window(fed: Fed) -> None:
    fed.detector.crowd = False  # dispersed as the case is resolved
    command = await fed.watch()
    began = fed.clock.now()
    [answer] = await fed.frames(WINDOW_S + 5)
    assert answer.verdict is ZoneVerdict.CLEAR and answer.watch_id == command.watch_id
    assert WINDOW_S <= (answer.at - began).total_seconds() <= WINDOW_S + 1.0
    assert answer.snapshot is not None and answer.snapshot.data.startswith(b"\xff\xd8")


async def test_the_crowd_coming_back_inside_the_window_is_reported(fed: Fed) -> None:
    fed.detector.crowd = False
    await fed.watch()
    assert await fed.frames(10) == []  # the episode ended, nothing new yet
    fed.detector.crowd = True
    [answer] = await fed.frames(5)
    assert answer.verdict is ZoneVerdict.PRESENT  # a new START within the window


async def test_a_second_resolution_replaces_the_watch(fed: Fed) -> None:
    fed.detector.crowd = False
    incident = uuid.uuid4()
    await fed.watch(incident)
    await fed.frames(5)
    second = await fed.watch(incident)
    [answer] = await fed.frames(WINDOW_S + 5)
    assert answer.watch_id == second.watch_id


async def test_a_camera_stopped_during_the_window_cannot_answer(fed: Fed) -> None:
    command = await fed.watch()
    await fed.node.send(StopCamera(CAMERA.id))
    [answer] = fed.sink.answers
    assert (answer.watch_id, answer.verdict, answer.snapshot) == (
        command.watch_id,
        ZoneVerdict.UNAVAILABLE,
        None,
    )
    assert "stopped" in answer.note


async def test_a_camera_restarted_without_the_zone_cannot_answer_and_with_it_starts_again(fed: Fed) -> None:
    fed.detector.crowd = False
    await fed.watch()
    await fed.frames(10)
    # Restarted with the same zone (a new name, say): its rule remembers nothing, so a whole window again.
    await fed.node.send(RunCamera(dataclasses.replace(CAMERA, name="renamed")))
    fed.analyzer = CameraAnalyzer(CAMERA, clips=False)
    began = fed.clock.now()
    [answer] = await fed.frames(WINDOW_S + 5)
    assert answer.verdict is ZoneVerdict.CLEAR and (answer.at - began).total_seconds() >= WINDOW_S

    fed.sink.messages.clear()
    await fed.watch()
    await fed.node.send(RunCamera(dataclasses.replace(CAMERA, zones=())))
    [gone] = fed.sink.answers
    assert gone.verdict is ZoneVerdict.UNAVAILABLE and "no longer watches" in gone.note
    await fed.node.stop()


async def test_a_watch_on_a_zone_the_camera_lacks_cannot_answer(fed: Fed) -> None:
    await fed.watch(zone="elsewhere")
    [answer] = await fed.frames(2)
    assert answer.verdict is ZoneVerdict.UNAVAILABLE


async def test_a_camera_offline_during_the_window_cannot_answer(fed: Fed) -> None:
    command = await fed.watch()

    @dataclasses.dataclass
    class Down:
        health: CameraHealth

    health = CameraHealth(CAMERA.id, fed.clock)
    health.set_state(CameraState.OFFLINE, "no route to host")
    fed.view.source = Down(health)  # type: ignore[assignment]
    fed.node.live[CAMERA.id] = fed.view
    fed.clock.advance(301)  # past the offline tolerance
    await fed.node.check_offline()
    [answer] = fed.sink.answers
    assert (answer.watch_id, answer.verdict) == (command.watch_id, ZoneVerdict.UNAVAILABLE)
    assert "offline" in answer.note
