"""``gridwatch cluster`` (what ``./run cluster`` runs), as a user runs it: a hub, two township leaves, three
nodes and a centre as real processes; incidents from both townships' cameras at the centre, each in its
camera's grid with someone on duty there; a township camera's live video offered at the centre and
answered by its node; a node killed, its cameras taken by the other node of its township; then one SIGINT
stops all of them, leaving no process behind."""

from __future__ import annotations

import asyncio
import csv
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from api.cluster import COPIES, TOWNSHIPS
from api.site import DEMO_PASSWORD
from tests.conftest import REPO
from tests.servers import free_port, wait_for

pytestmark = pytest.mark.slow

CLI = "from api.cli import main; main()"
#: Each camera's township, as the cluster's site file places it.
CAMERAS = {"cam-dongguan-road": "379901001", **{c: t for c, (_, t, _) in COPIES.items()}}


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


async def _offer() -> str:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = str(pc.localDescription.sdp)
    await pc.close()
    return sdp


def _roster_units() -> dict[str, str]:
    with (REPO / "api" / "demo" / "roster.csv").open(encoding="utf-8") as rows:
        return {row["worker_id"]: row["unit_code"] for row in csv.DictReader(rows)}


def test_the_cluster_opens_incidents_of_both_townships_and_stops_leaving_no_process(
    tmp_path: Path, vtest: Path, db_url: str
) -> None:
    directory = tmp_path / "cluster"
    port = free_port()
    env = {**os.environ, "GRIDWATCH_DATABASE_URL": db_url, "GRIDWATCH_DEMO_VIDEO": str(vtest)}
    out = (tmp_path / "cluster.out").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, "cluster", "--dir", str(directory), "--port", str(port)],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        # As a shell's background job starts it: SIGINT ignored. The cluster and its children must still
        # stop cleanly on one SIGINT.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:

        def banner() -> str | None:
            assert proc.poll() is None, Path(out.name).read_text()
            match = re.search(r"^wall: (\S+)", Path(out.name).read_text(), re.MULTILINE)
            return match.group(1) if match else None

        wall = wait_for(banner, 180, interval_s=0.5)
        assert wall == f"http://127.0.0.1:{port}/", Path(out.name).read_text()
        pids = [int(p) for p in re.findall(r"pid (\d+)", Path(out.name).read_text())]
        assert len(pids) == 3 + 3 + 1  # hub, two leaves; three nodes; the centre
        token = httpx.post(
            f"{wall}api/auth/token", json={"username": "command", "password": DEMO_PASSWORD}, timeout=10
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        def both_townships() -> list[Any] | None:
            items = httpx.get(f"{wall}api/incidents", headers=headers, timeout=10).json()["items"]
            townships = {CAMERAS.get(i["camera_id"]) for i in items}
            return items if set(TOWNSHIPS) <= townships else None

        incidents = wait_for(both_townships, 90)
        logs = "\n".join(p.read_text()[-1500:] for p in sorted((directory / "logs").glob("*.log")))
        assert incidents, logs
        units = _roster_units()
        for incident in incidents:
            township = CAMERAS[incident["camera_id"]]
            grid = incident["place"]["grid_code"]
            assert grid.startswith(township), incident
            assert incident["place"]["located_by"] == "homography"
            # Someone on the demo roster whose post covers the grid (its unit is the grid or above it).
            worker = (incident["assignee"] or {}).get("worker_id")
            assert worker in units and grid.startswith(units[worker]), incident
        # The wall plays a 河湾镇 camera: the centre forwards the offer to hewan-1, which answers it.
        offer = asyncio.run(_offer())

        def answered() -> httpx.Response | None:
            reply = httpx.post(
                f"{wall}api/cameras/cam-liuzhuang/whep",
                content=offer,
                headers={**headers, "Content-Type": "application/sdp"},
                timeout=30,
            )
            return None if reply.status_code == 422 else reply  # 422: not in the video directory yet

        answer = wait_for(answered, 30)
        assert answer is not None and answer.status_code == 201 and "m=video" in answer.text, logs
        assert (
            httpx.delete(f"{wall.rstrip('/')}{answer.headers['Location']}", headers=headers).status_code
            == 204
        )
        # A node dies (SIGKILL, no hand-back): the cluster runs on and the other 城关街道 node takes its
        # camera when the lease lapses.
        victim = int(re.search(r"node chengguan-1\s+pid (\d+)", Path(out.name).read_text()).group(1))  # type: ignore[union-attr]
        os.kill(victim, signal.SIGKILL)
        survivor = directory / "logs" / "chengguan-2.log"

        def taken_over() -> bool | None:
            took = set(re.findall(r"node chengguan-2 takes camera (\S+)", survivor.read_text()))
            return took >= {"cam-dongguan-road", "cam-xiguan-market"} or None

        assert wait_for(taken_over, 45, interval_s=0.5), survivor.read_text()[-2000:]
        assert proc.poll() is None and "node chengguan-1 exited (-9)" in Path(out.name).read_text()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()
    text = (tmp_path / "cluster.out").read_text()
    assert proc.returncode == 0, text
    assert "stopped: no process of the cluster is left" in text
    assert "did not stop within" not in text  # each stopped on its SIGINT, none had to be killed
    left = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    assert left == [], text
    assert _processes_mentioning(str(directory)) == []
