"""Crowd thresholds per grid kind and time of day, through what ``gridwatch serve`` builds.

The site file's ``policies.crowd_thresholds`` (read as serve reads it), the demo county with its camera
looking at the market grid, the centre handing the camera to the analysis role at start, and the same six
people on the road at 07:00 and at 14:00 local time (frames stamped by the test's clock): the market's
morning window (10 persons) holds back what the zone's own 5 persons open in the afternoon.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from api.auth import AuthConfig
from api.site import demo_site, load_site, read_policies
from api.wiring import build_system
from detect.analysis.analyzer import CameraAnalyzer
from detect.analysis.live import LiveView
from ingest.frames import Frame
from models.clock import ManualClock
from models.incidents import Incident
from models.records import CrowdWindow, ZoneKind
from models.store import Store
from tests.api.test_app import PeopleOnTheRoad
from tests.detect.test_crowd_windows import local
from tests.router.test_crowd_thresholds import MARKET_GRID, in_the_market

SITE_POLICIES = """\
policies:
  crowd_thresholds:
    market:
      - {hours: "05:00-09:00", min_persons: 10}   # the morning market
    markt:                                        # misspelt: applies nowhere, and start-up says so
      - {hours: "05:00-09:00", min_persons: 1}
"""
FRAMES = 30  # 15 s at 2 fps: three times the zone's 5 s


async def _served(store: Store, policies_file: Path, begin: datetime) -> tuple[list[Incident], CrowdWindow]:
    site = demo_site()
    camera = replace(in_the_market(site.cameras[0]), source="unused.avi", enabled=False)
    await load_site(store, replace(site, cameras=[camera]))
    clock = ManualClock(begin)
    system = build_system(
        store,
        PeopleOnTheRoad(),
        clock,
        AuthConfig.for_demo(),
        policies=read_policies(policies_file),
        clip_seconds=None,
    )
    await system.start()  # the centre hands every stored camera to the analysis role, as serve does
    try:
        received = system.analysis.cameras[camera.id]  # what RunCamera brought (disabled: no reader)
        analyzer, view = CameraAnalyzer(received, clips=False), LiveView()
        image = np.full((576, 768, 3), 120, np.uint8)
        for i in range(FRAMES):
            frame = Frame(camera.id, i, begin + timedelta(seconds=i * 0.5), image, keyframe=False)
            await system.analysis.analyse(received, analyzer, frame, view)
        await system.link.join()
        # A camera saved again (the registry API's PUT) reaches the analysis role with its windows too.
        await system.centre.registry.save(replace(camera, name="市场北口"))
        resaved = system.analysis.cameras[camera.id]
        assert resaved.name == "市场北口" and resaved.zones == received.zones
    finally:
        await system.stop()
    [window] = next(z for z in received.zones if z.kind is ZoneKind.CROWD).crowd_windows
    return (await store.incidents.page())[0], window


async def test_a_market_at_seven_is_not_a_gathering_at_two_it_is(
    store: Store, other_store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    policies_file = tmp_path / "site.yaml"
    policies_file.write_text(SITE_POLICIES, encoding="utf-8")

    morning, window = await _served(store, policies_file, local(7))
    assert window == CrowdWindow("05:00-09:00", "Asia/Shanghai", min_persons=10)
    assert morning == []
    assert "names grid kinds no grid has (markt)" in caplog.text

    afternoon, _ = await _served(other_store, policies_file, local(14))
    [incident] = afternoon
    assert (incident.kind.value, incident.grid_code) == ("crowd", MARKET_GRID)
