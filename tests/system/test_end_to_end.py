"""Sample video → detector → crowd rule → router → incident row, against the real database.

Every stage is the production one; only time is injected, so the duty roster is checked at chosen
instants of Asia/Shanghai wall-clock time.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import pytest

from api.site import demo_site, load_site
from detect.analysis.analyzer import CameraAnalyzer
from detect.analysis.live import LiveView
from detect.backends.factory import build_detector
from detect.port import Detector
from ingest.frames import Frame
from models.clock import ManualClock
from models.records import EventKind, IncidentState, LocatedBy
from models.store import Store
from router.crs import haversine_m
from tests.rig import build_rig

pytestmark = pytest.mark.slow

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: Who the demo roster puts on duty per grid (roster.csv): day shift 08:00–20:00, night 20:00–08:00.
DAY = {"379901001001001": "w001", "379901001001002": "w003"}
NIGHT = {"379901001001001": "w002", "379901001001002": "w004"}


@pytest.fixture(scope="module")
def detector() -> Detector:
    return build_detector()


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI), DAY),  # Monday morning
        (datetime(2026, 11, 28, 23, 30, tzinfo=SHANGHAI), NIGHT),  # Saturday night, shift past midnight
    ],
)
async def test_demo_video_opens_incident_for_the_worker_on_duty(
    store: Store,
    vtest: Path,
    detector: Detector,
    start: datetime,
    expected: dict[str, str],
) -> None:
    site = demo_site()
    site = replace(site, cameras=[replace(c, source=str(vtest)) for c in site.cameras])
    await load_site(store, site)
    clock = ManualClock(start)
    rig = await build_rig(store, clock, detector, timezone=site.timezone)
    camera = site.cameras[0]
    analyzer = CameraAnalyzer(camera)
    view = LiveView()
    capture = cv2.VideoCapture(str(vtest))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 250)
    try:
        # 2 analysed frames per second of a 10 fps video, as a camera loop does by default.
        for index in range(250, 420):
            ok, image = capture.read()
            assert ok, f"vtest.avi ended early at frame {index}"
            clock.advance(0.1)
            if index % 5:
                continue
            frame = Frame(camera.id, index, clock.now(), image, keyframe=False)
            await rig.analysis.analyse(camera, analyzer, frame, view)
    finally:
        capture.release()
        await rig.stop()

    opened = rig.link.opened
    assert opened, "no incident opened from frames 250–420 of vtest.avi"
    incident = await store.incidents.get(opened[0])
    assert incident.kind is EventKind.CROWD
    assert incident.grid_code in expected, incident.grid_code
    assert incident.located_by is LocatedBy.HOMOGRAPHY
    assert incident.assignee_id == expected[incident.grid_code]
    assert incident.state is IncidentState.DISPATCHED
    events = await store.incidents.events(opened[0])
    assert events and events[0].person_count is not None and events[0].person_count >= 5
    # Each box carries the ground point under its bottom-centre; the incident sits at their median.
    grounds = [b.ground for b in events[0].boxes if b.label == "person" and b.ground]
    assert len(grounds) >= 5
    assert events[0].lonlat is not None
    assert all(haversine_m(g, events[0].lonlat) < 80 for g in grounds)
    roles = {e.role for e in events[0].evidence}
    # The clip joins once its post-roll has been recorded, which may be after these frames.
    assert {"snapshot", "clean"} <= roles <= {"snapshot", "clean", "clip"}
    log = await store.incidents.log(opened[0])
    assert [entry.to_state for entry in log] == [IncidentState.REPORTED, IncidentState.DISPATCHED]
    outbox = await store.outbox.pending()
    assert any(o.topic == "incident.opened" for o in outbox)
