"""Which analysed frames the analysis node shows the fire model; a failing fire model blinds nothing else."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from api.wiring import build_analysis
from detect.analysis.analyzer import CameraAnalyzer
from detect.analysis.live import LiveView
from detect.analysis.node import AnalysisNode
from detect.rules.fire import FIRE_EVERY_SECONDS
from ingest.frames import Frame
from models.clock import ManualClock
from models.link import AnalysisMessage
from models.records import Camera, Detection, Mount, Zone, ZoneKind

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
WHOLE = ((0.0, 0.0), (640.0, 0.0), (640.0, 480.0), (0.0, 480.0))


class Recording:
    """A detector that finds nothing and remembers how many images it was shown, or fails when told to."""

    def __init__(self, *, fails: bool = False) -> None:
        self.name = "recording"
        self.labels: Mapping[int, str] = {0: "person"}
        self.images = 0
        self.fails = fails

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        self.images += len(images)
        if self.fails:
            raise RuntimeError("fire model crashed")
        return [[] for _ in images]


class Published:
    """An EventSink that keeps what the node publishes."""

    def __init__(self) -> None:
        self.messages: list[AnalysisMessage] = []

    async def publish(self, message: AnalysisMessage) -> None:
        self.messages.append(message)


def node_with(
    person: Recording, fire: Recording, *, fire_every_s: float = FIRE_EVERY_SECONDS
) -> AnalysisNode:
    return build_analysis(Published(), person, ManualClock(T0), fire_detector=fire, fire_every_s=fire_every_s)


def camera(*zones: Zone, fps: float = 2.0) -> Camera:
    return Camera(
        "cam-1", "test", "test.avi", (640, 480), Mount((118.63, 35.79)), zones=zones, analysis_fps=fps
    )


async def analyse_frames(node: AnalysisNode, cam: Camera, count: int) -> LiveView:
    analyzer, view = CameraAnalyzer(cam), LiveView()
    image = np.zeros((480, 640, 3), np.uint8)
    try:
        for i in range(count):
            frame = Frame(cam.id, i, T0 + timedelta(seconds=i / cam.analysis_fps), image, keyframe=False)
            await node.analyse(cam, analyzer, frame, view)
    finally:
        await node.stop()
    return view


@pytest.mark.parametrize(
    ("zones", "fire_every_s", "fps", "fire_images"),
    [
        ((Zone("yard", ZoneKind.FIRE, WHOLE),), 2.0, 2.0, 3),  # frames 0, 4, 8
        ((Zone("yard", ZoneKind.FIRE, WHOLE),), 0.5, 2.0, 9),  # every frame
        ((Zone("yard", ZoneKind.FIRE, WHOLE),), 2.0, 1.0, 5),  # frames 0, 2, 4, 6, 8
        ((Zone("street", ZoneKind.CROWD, WHOLE),), 2.0, 2.0, 0),  # no fire zone: never
    ],
)
async def test_the_fire_model_sees_every_nth_frame_of_fire_zone_cameras(
    zones: tuple[Zone, ...], fire_every_s: float, fps: float, fire_images: int
) -> None:
    person, fire = Recording(), Recording()
    view = await analyse_frames(
        node_with(person, fire, fire_every_s=fire_every_s), camera(*zones, fps=fps), 9
    )
    assert (person.images, fire.images, view.analysed_frames) == (9, fire_images, 9)


async def test_a_failing_fire_model_leaves_the_person_model_running() -> None:
    person, fire = Recording(), Recording(fails=True)
    view = await analyse_frames(node_with(person, fire), camera(Zone("yard", ZoneKind.FIRE, WHOLE)), 9)
    assert (person.images, view.analysed_frames) == (9, 9)
    assert fire.images >= 3  # tried on each due frame (a failed batch is retried frame by frame)
