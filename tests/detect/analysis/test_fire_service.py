"""A camera with a fire zone, fed a clip of a real fire, opens a fire incident through both running roles.

Everything is the production path: the analysis node's camera loop reads the clip as a file source, the
person and fire models run through their own batchers, the fire model only on every fourth analysed frame,
and the fire rule votes over those frames alone; the centre routes the event and opens the incident, whose
outbox row reaches the live feed the test listens to.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from api.site import demo_site, load_site
from detect.port import Detector
from models.clock import SystemClock
from models.incidents import Incident
from models.records import Camera, EventKind, Zone, ZoneKind
from models.store import Store
from router.centre.feed import FeedMessage
from tests.conftest import SHARED
from tests.rig import build_rig

pytestmark = pytest.mark.slow

#: A field burning, real video from the public eval set: flames and a drifting plume from the first second.
#: A real fire, because the fire rule's temporal stage wants a region that flickers or spreads; a still
#: picture (even with noise added) is what a red sign looks like to it, and never starts an episode.
FIRE_VIDEO = SHARED / "data" / "eval" / "fire" / "punpayut__field_burning_smoke_istock.mp4"


def fire_clip(path: Path, size: tuple[int, int]) -> Path:
    """The 12 s video at 10 fps, twice over, at the camera's frame size."""
    capture = cv2.VideoCapture(str(FIRE_VIDEO))
    frames: list[np.ndarray] = []
    index = 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        if index % 3 == 0:  # 30 fps → 10 fps
            frames.append(cv2.resize(image, size))
        index += 1
    capture.release()
    assert frames, f"{FIRE_VIDEO} is missing"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, size)
    for image in frames + frames:
        writer.write(image)
    writer.release()
    return path


def with_fire_zone(camera: Camera, clip: Path) -> Camera:
    width, height = camera.frame_size
    whole_frame = ((0.0, 0.0), (float(width), 0.0), (float(width), float(height)), (0.0, float(height)))
    return replace(camera, source=str(clip), zones=(Zone("field", ZoneKind.FIRE, whole_frame),))


async def first_fire(feed: asyncio.Queue[FeedMessage]) -> Incident:
    """The first incident of kind fire the live feed announces."""
    while (message := await feed.get()).incident.kind is not EventKind.FIRE:
        pass
    return message.incident


async def test_a_fire_on_camera_opens_a_fire_incident(
    store: Store, tmp_path: Path, detectors: tuple[Detector, Detector]
) -> None:
    person, fire = detectors
    site = demo_site()
    street = site.cameras[0]
    camera = with_fire_zone(street, fire_clip(tmp_path / "fire.avi", street.frame_size))
    await load_site(store, replace(site, cameras=[camera]))
    # The clip plays in real time: frames are stamped, and the rules' votes timed, by the system clock.
    rig = await build_rig(
        store, SystemClock(), person, timezone=site.timezone, workers=True, fire_detector=fire
    )
    node = rig.analysis
    assert node.fire_stride(camera) == 4  # 2 fps analysis, the fire model every 2 s
    try:
        async with rig.centre.broadcaster.subscribe() as feed:
            await node.start(rig.centre.routing.cameras.values())
            try:
                incident = await asyncio.wait_for(first_fire(feed), 120)
            except TimeoutError:
                pytest.fail(f"no fire incident after {node.live[camera.id].analysed_frames} analysed frames")
        # Read at once: the event's clip comes seconds later, once its post-roll is recorded.
        events = await store.incidents.events(incident.id)
    finally:
        await rig.stop()

    assert incident.camera_id == camera.id
    assert events[0].zone_name == "field"
    assert {e.role for e in events[0].evidence} == {"snapshot", "clean"}
    # The fire model saw one analysed frame in four (the first included); the person model saw them all.
    assert node.fire_batcher is not None
    assert node.fire_batcher.frames <= node.batcher.frames // 4 + 1
    assert node.fire_batcher.frames >= 3  # k=3 votes
