"""``gridwatch centre`` and ``gridwatch node`` as a user runs them: two processes, a hub and a township leaf.

The centre (demo county, its database) writes its camera into the township's command bucket; the node, on
the leaf, picks the camera up from the bucket's mirror, plays vtest.avi through the demo detector and
publishes into the township stream; the centre's stream sources it and the incident appears in the API.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.nats.servers import Cluster, cluster
from api.site import DEMO_PASSWORD
from tests.servers import free_port, running_cli, wait_for

TOWNSHIP = "379901001"
CLI = "from api.cli import main; main()"


@pytest.fixture
def county(tmp_path: Path) -> Iterator[Cluster]:
    servers = cluster(tmp_path / "county", [TOWNSHIP])
    servers.start()
    yield servers
    servers.stop()


def test_centre_and_node_processes_open_the_demo_incident(
    county: Cluster, tmp_path: Path, vtest: Path, db_url: str
) -> None:
    env = {**os.environ, "GRIDWATCH_DATABASE_URL": db_url, "GRIDWATCH_DEMO_VIDEO": str(vtest)}
    port = free_port()
    centre = ["centre", "--nats", county.hub.url, "--township", TOWNSHIP, "--port", str(port)]
    node_log = (tmp_path / "node.log").open("w")
    leaf = county.leaves[TOWNSHIP].url
    node = subprocess.Popen(
        [sys.executable, "-c", CLI, "node", "--nats", leaf, "--township", TOWNSHIP],
        env=env,
        stdout=node_log,
        stderr=subprocess.STDOUT,
    )
    try:
        with running_cli(centre, env=env, log_path=tmp_path / "centre.log", port=port) as base:
            token = httpx.post(
                f"{base}/api/auth/token", json={"username": "command", "password": DEMO_PASSWORD}, timeout=10
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}

            def opened() -> list[Any] | None:
                listed = httpx.get(f"{base}/api/incidents", headers=headers, timeout=5).json()
                return [i for i in listed["items"] if i["kind"] == "crowd"] or None

            incidents = wait_for(opened, 150)
            assert incidents, (tmp_path / "node.log").read_text()[-3000:]
            assert incidents[0]["place"]["grid_code"].startswith(TOWNSHIP)
            assert incidents[0]["place"]["located_by"] == "homography"
            assert incidents[0]["assignee"]["worker_id"] in {"w001", "w002", "w003", "w004"}
            assert incidents[0]["camera_id"] == "cam-dongguan-road"
            assert node.poll() is None, "the node exited"

            # The link's health as the centre sees it: the township's link up, its node heard with its camera.
            def heard() -> list[Any] | None:
                rows = httpx.get(f"{base}/api/health/townships", headers=headers, timeout=5).json()
                return rows if rows[0]["nodes"] and rows[0]["nodes"][0]["analysed_fps"] > 0 else None

            townships = wait_for(heard, 30)
            assert townships is not None
            [township] = townships
            assert (township["code"], township["link_up"]) == (TOWNSHIP, True)
            [seen] = township["nodes"]
            assert seen["cameras"] == 1 and seen["cameras_down"] == 0 and not seen["skewed"]
    finally:
        node.terminate()
        try:
            node.wait(20)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
        node_log.close()
