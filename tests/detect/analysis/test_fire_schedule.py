"""Which analysed frames the service shows the fire model; a failing fire model blinds nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from api.service import LiveView, Service
from detect.analysis.analyzer import CameraAnalyzer
from ingest.frames import Frame
from models.clock import SystemClock
from models.records import Camera, Detection, Mount, Zone, ZoneKind

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
WHOLE = ((0.0, 0.0), (640.0, 0.0), (640.0, 480.0), (0.0, 480.0))


class Recording:
    """A detector that finds nothing and remembers how many images it was shown, or fails when told to."""

    def __init__(self, *, fails: bool = False) -> None:
        self.images = 0
        self.fails = fails

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        self.images += len(images)
        if self.fails:
            raise RuntimeError("fire model crashed")
        return [[] for _ in images]


def camera(*zones: Zone, fps: float = 2.0) -> Camera:
    return Camera(
        "cam-1", "test", "test.avi", (640, 480), Mount((118.63, 35.79)), zones=zones, analysis_fps=fps
    )


async def analyse_frames(service: Service, cam: Camera, count: int) -> LiveView:
    analyzer, view = CameraAnalyzer(cam), LiveView()
    image = np.zeros((480, 640, 3), np.uint8)
    try:
        for i in range(count):
            frame = Frame(cam.id, i, T0 + timedelta(seconds=i / cam.analysis_fps), image, keyframe=False)
            await service.analyse(cam, analyzer, frame, view)
    finally:
        await service.stop()
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
    service = Service(None, person, SystemClock(), fire_detector=fire, fire_every_s=fire_every_s)  # type: ignore[arg-type]
    view = await analyse_frames(service, camera(*zones, fps=fps), 9)
    assert (person.images, fire.images, view.analysed_frames) == (9, fire_images, 9)


async def test_a_failing_fire_model_leaves_the_person_model_running() -> None:
    person, fire = Recording(), Recording(fails=True)
    service = Service(None, person, SystemClock(), fire_detector=fire)  # type: ignore[arg-type]
    view = await analyse_frames(service, camera(Zone("yard", ZoneKind.FIRE, WHOLE)), 9)
    assert (person.images, view.analysed_frames) == (9, 9)
    assert fire.images >= 3  # tried on each due frame (a failed batch is retried frame by frame)
