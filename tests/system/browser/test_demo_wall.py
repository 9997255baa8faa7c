"""The README's demo, as a person runs it: ``gridwatch demo``, then the API and the wall in Chromium.

The demo runs with the weights a fresh machine has (the PyPI package), not the test models, and with
the real clock: which worker is expected follows from the Asia/Shanghai hour the incident opened at.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from api.site import DEMO_PASSWORD
from tests.conftest import REPO
from tests.router.demo_data import DAY, on_duty
from tests.servers import free_port, running_cli, wait_for

pytestmark = pytest.mark.slow

CHECK = Path(__file__).with_name("wall_check.mjs")
#: roster.csv: grid workers 08:00–20:00 and 20:00–08:00, every day.


# Runs the CLI under an audit hook that writes down every attempt to reach a host off this machine:
# the demo must resolve and run its models with no hub, DNS or download traffic at all.
OFFLINE_GUARD = """
import sys
LOG = sys.argv.pop(1)
def _note(line):
    with open(LOG, "a") as f:
        f.write(line + "\\n")
def _hook(event, args):
    if event == "socket.connect" and isinstance(args[1], tuple):
        host = str(args[1][0])
        if not (host.startswith("127.") or host in ("::1", "localhost")):
            _note(f"connect {args[1]!r}")
    elif event == "socket.getaddrinfo":
        host = str(args[0])
        if not (host.startswith("127.") or host in ("::1", "localhost", "None")):
            _note(f"getaddrinfo {host}")
sys.addaudithook(_hook)
from api.cli import main
sys.argv[0] = "gridwatch"
main()
"""


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo")


@pytest.fixture(scope="module")
def demo(demo_dir: Path) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GRIDWATCH_MODEL_DIRS", "GRIDWATCH_DATABASE_URL")}
    port = free_port()
    args = [str(demo_dir / "network.log"), "demo", "--port", str(port), "--data-dir", str(demo_dir)]
    with running_cli(args, env=env, log_path=demo_dir / "demo.log", port=port, code=OFFLINE_GUARD) as base:
        yield base


def _auth(base: str, user: str = "command") -> dict[str, str]:
    r = httpx.post(f"{base}/api/auth/token", json={"username": user, "password": DEMO_PASSWORD}, timeout=10)
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _first_incident(base: str, timeout_s: float = 180) -> dict:  # type: ignore[type-arg]
    headers = _auth(base)
    page = wait_for(
        lambda: httpx.get(f"{base}/api/incidents", headers=headers, timeout=5).json()["items"], timeout_s
    )
    if not page:
        pytest.fail(f"the demo opened no incident in {timeout_s:.0f} s")
    return page[-1]  # the oldest: the list is newest first


def test_demo_opens_incident_for_worker_on_duty(demo: str) -> None:
    incident = _first_incident(demo)
    grid = incident["place"]["grid_code"]
    assert grid in DAY, f"incident in grid {grid}, expected one of the camera's two grids"
    expected = on_duty(datetime.fromisoformat(incident["opened_at"]))[grid]
    assert incident["assignee"]["worker_id"] == expected
    assert incident["place"]["located_by"] == "homography"
    # The assigned worker sees it (and the evidence) under their own sign-in.
    worker = _auth(demo, incident["assignee"]["worker_id"])
    detail = httpx.get(f"{demo}/api/incidents/{incident['id']}", headers=worker, timeout=5).json()
    snapshot = detail["events"][0]["evidence"][0]
    image = httpx.get(f"{demo}{snapshot['url']}", headers=worker, timeout=5)
    assert image.headers["content-type"] == "image/jpeg" and image.content[:2] == b"\xff\xd8"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_wall_shows_live_picture_and_the_incident(demo: str, tmp_path: Path) -> None:
    incident = _first_incident(demo)
    if not (REPO / "node_modules" / "playwright-core").is_dir():
        pytest.fail("playwright-core missing: run ./run setup")
    shot = tmp_path / "wall.png"
    result = subprocess.run(
        [
            "node",
            str(CHECK),
            demo + "/",
            str(shot),
            incident["id"],
            DEMO_PASSWORD,
            incident["assignee"]["worker_id"],
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["errors"] == []
    assert seen["csp"] == [], "a page broke the Content-Security-Policy"
    assert seen["media"] == "webrtc", "the wall fell back to MJPEG"
    assert seen["boxes"] > 0, "no detection boxes came over the data channel"
    assert seen["frame_width"] == 768
    assert seen["mean_brightness"] > 20, "the live picture is black"
    assert seen["changed_pixels"] > 30, "the live picture does not change over time"
    assert any(incident["assignee"]["name"] in text for text in seen["incidents"])
    assert incident["place"]["grid_code"] in seen["hot_grids"]
    assert seen["feed"] == "on"
    # The township link strip: serve's one local township, up, with its node's camera.
    assert len(seen["links"]) == 1 and seen["links"][0].startswith("link up|本地 在线"), seen["links"]
    assert shot.stat().st_size > 50_000
    assert seen["worker_steps"] == ["accepted", "in_progress", "resolved"]
    assert seen["wall_update_ms"] < 5000
    final = httpx.get(f"{demo}/api/incidents/{incident['id']}", headers=_auth(demo), timeout=5).json()
    assert final["state"] == "resolved"
    assert [(e["action"], e["actor"]) for e in final["log"][2:]] == [
        ("accept", incident["assignee"]["worker_id"]),
        ("start", incident["assignee"]["worker_id"]),
        ("resolve", incident["assignee"]["worker_id"]),
    ]
    assert final["log"][-1]["note"] == "已劝离，现场恢复通行"
    if os.environ.get("GRIDWATCH_SAVE_SCREENSHOT"):
        shutil.copy(shot, REPO / "docs" / "wall.png")
        shutil.copy(shot.with_name("wall-worker.png"), REPO / "docs" / "worker.png")


def test_demo_never_reaches_off_the_machine(demo: str, demo_dir: Path) -> None:
    _first_incident(demo)  # models loaded and ran
    attempts = demo_dir / "network.log"
    assert not attempts.exists() or attempts.read_text() == "", attempts.read_text()
    assert os.environ.get("YOLO_OFFLINE") == "1"
