"""``gridwatch cluster`` (``./run cluster``): the county layout of docs/deploy.md on one machine.

Real processes, each as on its own machine: a NATS hub (domain ``county``), one leaf server per township
(its own JetStream domain, file-backed), three ``gridwatch node`` (two share 城关街道's cameras by leases,
one runs 河湾镇's; each serves its cameras' live video to the wall) and a ``gridwatch centre`` with the
wall. The demo county already has two townships but one camera; the cluster's site file adds three file
cameras playing the same video, each moved onto the ground of another grid (see docs/deploy.md, "The local
cluster"), so that each township has two.

Every process is started in a session of its own: a Ctrl-C at the terminal reaches this supervisor only,
which stops them in order (nodes, so their last events reach the leaf; the centre; the NATS servers) and
waits for each, killing what does not stop in time. Each child also dies with the supervisor (Linux's
parent-death signal) if the supervisor itself is killed.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import yaml

from api.nats.servers import Cluster, cluster, die_with_parent, free_port
from api.nats.video import TOKEN_ENV
from api.problems import UsageProblem
from api.site import DEMO_PASSWORD

logger = logging.getLogger(__name__)

CLI = "from api.cli import main; main()"
#: The demo county's two townships.
TOWNSHIPS: Mapping[str, str] = {"379901001": "城关街道", "379901002": "河湾镇"}
#: node name → township: two nodes share 城关街道's cameras by leases, one runs 河湾镇's.
NODES: Mapping[str, str] = {"chengguan-1": "379901001", "chengguan-2": "379901001", "hewan-1": "379901002"}
#: The demo camera's copies: id → (name, township, [lon, lat] moved by, in degrees). Each looks at the
#: middle of another grid: 西关农贸市场专属网格, 河湾村一组 and 柳庄村.
COPIES: Mapping[str, tuple[str, str, tuple[float, float]]] = {
    "cam-xiguan-market": ("西关农贸市场入口", "379901001", (-0.0033, 0.0016)),
    "cam-hewan-village": ("河湾村村口", "379901002", (-0.0032, -0.0071)),
    "cam-liuzhuang": ("柳庄村路口", "379901002", (0.0, -0.0133)),
}
#: The demo camera's crowd zone asks for 5 people for 5 s; the video has that only ~30 s in. Here 4 for 3 s,
#: so each camera opens an incident within a minute of starting.
CROWD = {"min_persons": 4, "min_seconds": 3}
STOP_S = 20.0
READY_S = 240.0


def _moved(point: list[float], by: tuple[float, float]) -> list[float]:
    return [round(point[0] + by[0], 7), round(point[1] + by[1], 7)]


def site_document(video: Path) -> dict[str, Any]:
    """The cluster's site file: the demo county, its camera and three copies, placed in two townships."""
    demo = resources.files("api") / "demo"
    (camera,) = json.loads((demo / "cameras.json").read_text(encoding="utf-8"))["cameras"]
    camera.pop("facts", None)
    camera["source"] = str(video)
    for zone in camera["zones"]:
        if zone["kind"] == "crowd":
            zone.update(CROWD)
    cameras = [camera]
    placed: dict[str, list[str]] = {code: [] for code in TOWNSHIPS}
    placed["379901001"].append(camera["id"])
    for camera_id, (name, township, by) in COPIES.items():
        copy = json.loads(json.dumps(camera))
        copy.update(id=camera_id, name=name)
        copy["mount"]["lonlat"] = _moved(copy["mount"]["lonlat"], by)
        for point in copy["calibration"]:
            point["lonlat"] = _moved(point["lonlat"], by)
        cameras.append(copy)
        placed[township].append(camera_id)
    return {
        "site": {"name": "青河县 (local cluster)", "timezone": "Asia/Shanghai"},
        "cameras": cameras,
        # The person model only: three nodes share one machine's cores, and the two-scale fire model would
        # take most of them (with it on, a node stays torch-free all the same: the fire model's export).
        "detectors": {"fire": {"enabled": False}},
        "grids_file": "grids.geojson",
        "roster_file": "roster.csv",
        "townships": [
            {"code": code, "name": name, "cameras": placed[code], "nodes": [
                {"name": node} for node, township in NODES.items() if township == code
            ]}
            for code, name in TOWNSHIPS.items()
        ],
    }  # fmt: skip


def write_site(directory: Path, video: Path) -> Path:
    """The site file and the demo's grids and roster beside it."""
    directory.mkdir(parents=True, exist_ok=True)
    demo = resources.files("api") / "demo"
    for name in ("grids.geojson", "roster.csv"):
        (directory / name).write_text((demo / name).read_text(encoding="utf-8"), encoding="utf-8")
    path = directory / "site.yaml"
    text = yaml.safe_dump(site_document(video), allow_unicode=True, sort_keys=False, width=110)
    path.write_text("# Written by gridwatch cluster: the demo county over two townships.\n" + text, "utf-8")
    return path


@dataclass
class Child:
    name: str
    args: list[str]
    log: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", CLI, *self.args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _interrupt(children: list[Child], timeout_s: float) -> None:
    """SIGINT (their clean stop) to each at once, then wait; SIGKILL what has not stopped in time."""
    for child in children:
        if child.running():
            assert child.process is not None
            child.process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + timeout_s
    for child in children:
        if child.process is None:
            continue
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop within %.0f s: killed", child.name, timeout_s)
            child.process.kill()
            child.process.wait()


@dataclass
class LocalCluster:
    directory: Path
    port: int
    video: Path
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    servers: Cluster | None = None
    nodes: list[Child] = field(default_factory=list)
    centre: Child | None = None
    _reported: set[str] = field(default_factory=set)

    @property
    def wall(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def children(self) -> list[Child]:
        return [*self.nodes, *([self.centre] if self.centre else [])]

    def pids(self) -> dict[str, int]:
        servers = [self.servers.hub, *self.servers.leaves.values()] if self.servers else []
        found = {s.name: s.process.pid for s in servers if s.process is not None}
        found.update({c.name: c.process.pid for c in self.children() if c.process is not None})
        return found

    def start(self) -> None:
        site = write_site(self.directory, self.video)
        logs = self.directory / "logs"
        logs.mkdir(exist_ok=True)
        self.servers = cluster(self.directory / "nats", list(TOWNSHIPS))
        self.servers.start(detached=True)
        base = {**self.env, "PYTHONUNBUFFERED": "1"}
        # Tokens are signed with a key of this run: the wall's sign-in lasts as long as the cluster.
        base.setdefault("GRIDWATCH_SECRET_KEY", secrets.token_urlsafe(48))
        # Shared by the centre and the nodes: the wall plays township cameras from their nodes.
        base.setdefault(TOKEN_ENV, secrets.token_urlsafe(32))
        centre_args = ["centre", "--nats", self.servers.hub.url, "--config", str(site)]
        centre_args += ["--host", "127.0.0.1", "--port", str(self.port), "--demo-users"]
        self.centre = Child(
            "centre",
            centre_args,
            logs / "centre.log",
            {**base, "GRIDWATCH_DATA_DIR": str(self.directory / "centre")},
        )
        self.centre.start()
        for name, township in NODES.items():
            leaf = self.servers.leaves[township].url
            args = ["node", "--township", township, "--nats", leaf, "--name", name, "--config", str(site)]
            args += ["--video-port", str(free_port())]
            data = {**base, "GRIDWATCH_DATA_DIR": str(self.directory / name)}
            self.nodes.append(Child(f"node {name}", args, logs / f"{name}.log", data))
            self.nodes[-1].start()

    def wait_ready(self, timeout_s: float = READY_S) -> None:
        """Until the wall answers; a child that exits first is a failure, with its log's last lines."""
        logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per poll
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if httpx.get(f"{self.wall}api/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise UsageProblem(
            f"the centre did not answer on {self.wall} within {timeout_s:.0f} s: see {self.directory}/logs"
        )

    def check_alive(self) -> None:
        """The centre exiting ends the cluster (the wall is gone). A node or NATS server that exits is said
        once and the rest runs on: killing a node's pid is how to watch its cameras move to the other node
        of its township, stopping a leaf how to watch a township ride out a cut link."""
        if self.centre is not None and not self.centre.running():
            raise UsageProblem(f"the centre exited: {self._tail(self.centre)}")
        for child in self.nodes:
            if not child.running() and child.name not in self._reported:
                self._reported.add(child.name)
                code = child.process.returncode if child.process is not None else None
                print(
                    f"{child.name} exited ({code}); its township's other nodes take its cameras", flush=True
                )
        servers = [self.servers.hub, *self.servers.leaves.values()] if self.servers else []
        for server in servers:
            if (
                server.process is None or server.process.poll() is not None
            ) and server.name not in self._reported:
                self._reported.add(server.name)
                print(f"{server.name} exited: see {server.directory / 'server.log'}", flush=True)

    @staticmethod
    def _tail(child: Child) -> str:
        code = child.process.returncode if child.process is not None else None
        lines = child.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
        return f"({code}) {' / '.join(lines)}"

    def stop(self) -> None:
        """Nodes first (their last events reach the leaf), then the centre, then the NATS servers."""
        _interrupt(self.nodes, STOP_S)
        if self.centre is not None:
            _interrupt([self.centre], STOP_S)
        if self.servers is not None:
            self.servers.stop()


def run(directory: Path, port: int, video: Path) -> None:
    """Start the cluster, print where it is, and run until Ctrl-C (or SIGTERM); then stop everything."""
    local = LocalCluster(directory, port, video)
    # Both, explicitly: started in a shell's background, a process inherits SIGINT ignored.
    previous = signal.signal(signal.SIGTERM, _as_interrupt)
    signal.signal(signal.SIGINT, _as_interrupt)
    try:
        try:
            local.start()
            local.wait_ready()
            _banner(local)
            while True:
                local.check_alive()
                time.sleep(0.5)
        finally:
            # A second Ctrl-C must not cut the stop short: that is how processes are orphaned.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("stopping the cluster…", flush=True)
            local.stop()
            print("stopped: no process of the cluster is left", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _as_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _banner(local: LocalCluster) -> None:
    assert local.servers is not None
    pids = local.pids()
    lines = [f"gridwatch cluster in {local.directory} (logs in {local.directory / 'logs'})"]
    lines.append(f"  hub {local.servers.hub.url} domain {local.servers.hub.domain}  pid {pids['hub']}")
    for code, leaf in local.servers.leaves.items():
        lines.append(
            f"  leaf {TOWNSHIPS[code]} {code} {leaf.url} domain {leaf.domain}  pid {pids[leaf.name]}"
        )
    for child in local.children():
        lines.append(f"  {child.name}  pid {pids[child.name]}")
    lines.append(
        f"wall: {local.wall}  (sign in as command, password {DEMO_PASSWORD}; Ctrl-C stops everything)"
    )
    print("\n".join(lines), flush=True)
