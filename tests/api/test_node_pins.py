"""Cameras the site file's ``townships:`` pins to a named node: only that node runs them, the leases share
the rest, and a pinned camera stays put when its node dies. On a real nats-server, through the Node that
``gridwatch node`` runs."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from api.cli.county import node_pins, running_node
from api.nats.servers import NatsServer
from api.problems import UsageProblem
from api.site import SiteData, demo_site
from models.clock import ManualClock
from tests.api.test_nats_link import until
from tests.rig import T0, NoDetector
from tests.servers import run_cli

TOWNSHIP = "379901001"


async def test_a_pinned_camera_runs_on_its_node_only_and_does_not_move(nats_server: NatsServer) -> None:
    import nats

    from api.nats.commands import camera_key, ensure_commands
    from api.nats.wire import encode
    from models.link import RunCamera

    nc = await nats.connect(nats_server.url)
    try:
        bucket = await ensure_commands(nc.jetstream(), TOWNSHIP)
        base = demo_site().cameras[0]
        for i in range(5):
            camera = replace(base, id=f"cam-{i}", source="unused.avi")
            await bucket.put(camera_key(camera.id), encode(RunCamera(camera)))
    finally:
        await nc.close()
    lease_s = 1.0
    options: Any = {"hub_domain": None, "clip_seconds": None, "share": True, "lease_s": lease_s}
    options["unshared"] = ["cam-0"]
    clock = ManualClock(T0)
    seen_on_b: set[str] = set()
    async with (
        running_node(
            nats_server.url, TOWNSHIP, NoDetector(), clock, node_id="a", pinned=["cam-0"], **options
        ) as a,
        running_node(nats_server.url, TOWNSHIP, NoDetector(), clock, node_id="b", **options) as b,
    ):

        async def shared() -> bool:
            seen_on_b.update(b.analysis.cameras)
            # cam-0 on a besides its half of the four shared ones; b has the other half.
            return set(a.analysis.cameras) >= {"cam-0"} and len(a.analysis.cameras) == 3 == (
                len(b.analysis.cameras) + 1
            )

        await until(shared, timeout_s=10 * lease_s, what="a fair share beside the pin")
        assert a.leases is not None and "cam-0" not in a.leases.held  # pinned: no lease taken
        assert a._hold is not None
        a._hold.cancel()
        await a.analysis.stop()

        async def moved() -> bool:
            seen_on_b.update(b.analysis.cameras)
            return set(b.analysis.cameras) == {"cam-1", "cam-2", "cam-3", "cam-4"}

        await until(moved, timeout_s=10 * lease_s, what="b taking a's shared cameras")
        deadline = time.monotonic() + 2 * lease_s
        while time.monotonic() < deadline:  # two more lease periods: the pin still does not move
            await until(moved, timeout_s=lease_s)
            await asyncio.sleep(0.1)
        a.leases = None
    assert "cam-0" not in seen_on_b


def _site(pins: dict[str, str], townships: dict[str, str]) -> SiteData:
    return replace(demo_site(), camera_pins=pins, camera_townships=townships, townships=("379901001",))


def test_node_pins_names_the_cameras_of_this_node() -> None:
    site = _site({"cam-a": "n1", "cam-b": "n2"}, {"cam-a": TOWNSHIP, "cam-b": TOWNSHIP})
    assert node_pins(site, TOWNSHIP, "n1") == ["cam-a"]
    assert node_pins(site, TOWNSHIP, None) == []


def test_a_pin_in_another_township_is_a_usage_problem() -> None:
    site = _site({"cam-a": "n1"}, {"cam-a": "379901002"})
    with pytest.raises(UsageProblem, match="pins cam-a to this node in township 379901002, not 379901001"):
        node_pins(site, TOWNSHIP, "n1")


def test_the_command_refuses_a_pin_elsewhere_with_one_line(nats_server: NatsServer, tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    example = (Path(__file__).parents[2] / "docs" / "site.example.yaml").read_text(encoding="utf-8")
    site.write_text(example, encoding="utf-8")
    args = ["node", "--township", "379901002", "--name", "chengguan-1", "--config", str(site)]
    # The example's notification targets read their secrets from the environment.
    env = {
        **os.environ,
        "GRIDWATCH_WEBHOOK_SECRET": "s" * 32,
        "GRIDWATCH_WECOM_URL": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
        "GRIDWATCH_DINGTALK_URL": "https://oapi.dingtalk.com/robot/send?access_token=t",
        "GRIDWATCH_DINGTALK_SECRET": "SEC" + "s" * 32,
    }
    result = run_cli(*args, "--nats", nats_server.url, env=env)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "in township 379901001, not 379901002" in lines[0], result.stderr
    bad = run_cli("node", "--township", TOWNSHIP, "--name", "a b", "--nats", nats_server.url)
    assert bad.returncode == 2 and "--name 'a b'" in bad.stderr
