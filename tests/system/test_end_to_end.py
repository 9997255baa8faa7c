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

from api.runner import build_detector, demo_site, load_site
from api.service import LiveView, Service
from detect.analysis.analyzer import CameraAnalyzer
from ingest.frames import Frame
from models.clock import ManualClock
from models.store import Store
from router.crs import haversine_m

pytestmark = pytest.mark.slow

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: Who the demo roster puts on duty per grid (roster.csv): day shift 08:00–20:00, night 20:00–08:00.
DAY = {"379901001001001": "w001", "379901001001002": "w003"}
NIGHT = {"379901001001001": "w002", "379901001001002": "w004"}


@pytest.fixture(scope="module")
def detector():  # type: ignore[no-untyped-def]
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
    detector,
    start: datetime,
    expected: dict[str, str],  # type: ignore[no-untyped-def]
) -> None:
    site = demo_site()
    site = replace(site, cameras=[replace(c, source=str(vtest)) for c in site.cameras])
    await load_site(store, site)
    clock = ManualClock(start)
    service = Service(store, detector, clock, timezone=site.timezone)
    await service.load()
    camera = site.cameras[0]
    analyzer = CameraAnalyzer(camera)
    view = LiveView()
    capture = cv2.VideoCapture(str(vtest))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 250)
    opened = []
    try:
        # 2 analysed frames per second of a 10 fps video, as the service does by default.
        for index in range(250, 420):
            ok, image = capture.read()
            assert ok, f"vtest.avi ended early at frame {index}"
            clock.advance(0.1)
            if index % 5:
                continue
            frame = Frame(camera.id, index, clock.now(), image, keyframe=False)
            opened += await service.analyse(camera, analyzer, frame, view)
    finally:
        capture.release()
        await service.batcher.aclose()

    assert opened, "no incident opened from frames 250–420 of vtest.avi"
    row = await store.get_incident_row(opened[0])
    assert row["kind"] == "crowd"
    assert row["grid_code"] in expected, row["grid_code"]
    assert row["located_by"] == "homography"
    assert row["assignee_id"] == expected[row["grid_code"]]
    assert row["state"] == "dispatched"
    events = await store.incident_events(opened[0])
    assert events and events[0]["person_count"] >= 5
    # Each box carries the ground point under its bottom-centre; the incident sits at their median.
    grounds = [d["ground"] for d in events[0]["detections"] if d["label"] == "person" and d["ground"]]
    assert len(grounds) >= 5
    assert all(haversine_m((g[0], g[1]), (events[0]["lon"], events[0]["lat"])) < 80 for g in grounds)
    roles = {e["role"] for e in events[0]["evidence"]}
    # The clip joins once its post-roll has been recorded, which may be after these frames.
    assert {"snapshot", "clean"} <= roles <= {"snapshot", "clean", "clip"}
    log = await store.incident_log(opened[0])
    assert [entry["to_state"] for entry in log] == ["reported", "dispatched"]
    outbox = await store.pending_outbox()
    assert any(o["topic"] == "incident.opened" for o in outbox)
