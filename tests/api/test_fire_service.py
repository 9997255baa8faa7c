"""A camera with a fire zone, fed a clip of a real fire, opens a fire incident through the running service.

Everything is the production path: the camera loop reads the clip as a file source, the person and fire
models run through their own batchers, the fire model only on every fourth analysed frame, and the fire rule
votes over those frames alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from api.runner import build_detector, build_fire_detector, demo_site, load_site
from api.service import Service
from detect.port import Detector
from models.clock import SystemClock
from models.records import Camera, EventKind, Incident, Zone, ZoneKind
from models.store import IncidentFilter, Store
from tests.conftest import SHARED, SHARED_MODELS

pytestmark = pytest.mark.slow

#: An alley wall fire from the public eval set; the fire model calls its flames "fire" at about 0.7.
FIRE_IMAGE = SHARED / "data" / "eval" / "fire" / "fire8__alley_wallfire_cctv__fire2_mp4-29.jpg"


def fire_clip(path: Path, size: tuple[int, int]) -> Path:
    """Two seconds at 10 fps of the still with a little noise, so every frame is a new picture."""
    image = cv2.imread(str(FIRE_IMAGE))
    assert image is not None, f"{FIRE_IMAGE} is missing"
    image = cv2.resize(image, size)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, size)
    rng = np.random.default_rng(0)
    for _ in range(20):
        noise = rng.integers(-3, 4, image.shape, dtype=np.int16)
        writer.write(np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8))
    writer.release()
    return path


@pytest.fixture(scope="module")
def detectors() -> Iterator[tuple[Detector, Detector]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRIDWATCH_MODEL_DIRS", str(SHARED_MODELS))
        fire = build_fire_detector()
        assert fire is not None, "pip install 'gridwatch[fire]' (fire-detector==1.0.3)"
        yield build_detector(), fire


def with_fire_zone(camera: Camera, clip: Path) -> Camera:
    width, height = camera.frame_size
    whole_frame = ((0.0, 0.0), (float(width), 0.0), (float(width), float(height)), (0.0, float(height)))
    return replace(camera, source=str(clip), zones=(Zone("alley", ZoneKind.FIRE, whole_frame),))


async def test_a_fire_on_camera_opens_a_fire_incident(
    store: Store, tmp_path: Path, detectors: tuple[Detector, Detector]
) -> None:
    person, fire = detectors
    site = demo_site()
    street = site.cameras[0]
    camera = with_fire_zone(street, fire_clip(tmp_path / "fire.avi", street.frame_size))
    await load_site(store, replace(site, cameras=[camera]))
    service = Service(store, person, SystemClock(), timezone=site.timezone, fire_detector=fire)
    assert service.fire_stride(camera) == 4  # 2 fps analysis, the fire model every 2 s
    await service.start()
    try:
        deadline = time.monotonic() + 120
        incidents: list[Incident] = []
        while not incidents and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            incidents = await store.list_incidents(IncidentFilter(kind=EventKind.FIRE))
        analysed = service.live[camera.id].analysed_frames
    finally:
        await service.stop()

    assert incidents, f"no fire incident after {analysed} analysed frames"
    incident = incidents[0]
    assert incident.camera_id == camera.id
    events = await store.incident_events(incident.id)
    assert events[0]["zone_name"] == "alley"
    assert {e["role"] for e in events[0]["evidence"]} == {"snapshot", "clean"}
    # The fire model saw one analysed frame in four (the first included); the person model saw them all.
    assert service.fire_batcher is not None
    assert service.fire_batcher.frames <= service.batcher.frames // 4 + 1
    assert service.fire_batcher.frames >= 3  # k=3 votes
