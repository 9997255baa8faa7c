"""An incident opened while the wall is watching shows up on it within 5 s (issue: video wall).

The service runs in-process with the real camera loop over vtest.avi and a scripted, empty detector,
so the incident is opened by the test at a known instant instead of waiting for the video's crowd.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.site import DEMO_PASSWORD
from detect.backends.scripted import ScriptedDetector
from models.clock import SystemClock
from models.db import Database
from tests.conftest import REPO
from tests.rig import crowd_output
from tests.servers import InProcessApi, in_process_api

pytestmark = pytest.mark.slow


@pytest.fixture
def live_service(postgres: Database, vtest: Path) -> Iterator[InProcessApi]:
    with in_process_api(
        postgres.url,
        "gw_wall",
        detector=ScriptedDetector([]),
        clock=SystemClock(),
        camera_source=str(vtest),
        start_cameras=True,
    ) as api:
        yield api


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_new_incident_reaches_the_wall_within_5_s(
    live_service: InProcessApi,
) -> None:
    base = live_service.base
    node = subprocess.Popen(
        ["node", str(Path(__file__).with_name("wall_latency.mjs")), base + "/", DEMO_PASSWORD],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert node.stdout is not None
        ready = node.stdout.readline().strip()
        assert ready == "READY webrtc", (ready, node.stderr.read() if node.poll() is not None else "")
        opened_at_ms = time.time() * 1000
        # Opened by the centre's intake as a reported event is; the outbox relay pushes it to the wall.
        result = live_service.call(lambda system: system.centre.intake.handle(crowd_output(100)))
        assert result is not None and result[1]
        seen = json.loads(node.stdout.readline())
        node.wait(30)
    finally:
        if node.poll() is None:
            node.kill()
    assert seen["id"] == str(result[0])
    latency_ms = seen["seen_at"] - opened_at_ms
    assert 0 <= latency_ms < 5000, latency_ms
