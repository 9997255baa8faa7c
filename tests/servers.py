"""Start gridwatch servers on a free loopback port: the CLI as a subprocess, or the app in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg
import httpx
import uvicorn

if TYPE_CHECKING:
    from api.wiring import System
    from detect.port import Detector
    from models.clock import Clock
    from router.policies import Policies

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_cli(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    log_path: Path,
    port: int,
    code: str = "from api.cli import main; main()",
    ready_timeout_s: float = 120,
    cwd: Path | None = None,
) -> Iterator[str]:
    """Yield the base URL once ``/api/health`` answers; stop the process afterwards."""
    base = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        command = [sys.executable, "-c", code, *args]
        proc = subprocess.Popen(command, env=dict(env), stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
        try:
            deadline = time.monotonic() + ready_timeout_s
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"server exited with {proc.returncode}:\n{log_path.read_text()}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"server not ready in {ready_timeout_s} s:\n{log_path.read_text()}")
                if is_up(base):
                    break
                time.sleep(0.5)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(predicate: Callable[[], T], timeout_s: float, interval_s: float = 1.0) -> T | None:
    """Poll ``predicate`` until it returns something truthy; return it, or None on time-out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    return None


def is_up(base: str) -> bool:
    """Whether a gridwatch server at ``base`` answers its health check."""
    try:
        return httpx.get(f"{base}/api/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@dataclass
class InProcessApi:
    """A served system: both roles joined by the in-process link, as ``serve`` runs them."""

    base: str
    system: System
    loop: asyncio.AbstractEventLoop

    def call(self, work: Callable[[System], Coroutine[Any, Any, T]], timeout_s: float = 30) -> T:
        """Run ``work(system)`` on the server's event loop and return its result."""
        return asyncio.run_coroutine_threadsafe(work(self.system), self.loop).result(timeout_s)


@contextlib.contextmanager
def in_process_api(
    postgres_url: str,
    db_name: str,
    *,
    detector: Detector,
    clock: Clock,
    camera_source: str,
    start_cameras: bool,
    prepare: Callable[[System], Awaitable[object]] | None = None,
    policies: Policies | None = None,
) -> Iterator[InProcessApi]:
    """The demo county served by uvicorn in a thread with its own event loop and database.

    The system is built by ``api.wiring.build_system`` and started as ``serve`` starts it (the centre's
    intake, feed relay and escalator run); ``start_cameras`` also runs the analysis of the demo camera
    (live video). ``prepare`` runs inside the server's loop before it starts answering.
    """
    # Imported here: tests/servers.py also serves tests that must not load the application.
    from api.auth import AuthConfig
    from api.site import demo_site, load_site, seed_demo_users
    from api.webrtc import offer_loopback_only
    from api.wiring import build_system
    from models.store import Store
    from tests.conftest import _with_database

    port = free_port()
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        admin = await asyncpg.connect(postgres_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{db_name}"')
        await admin.close()
        store = await Store.connect(_with_database(postgres_url, db_name))
        site = demo_site()
        await load_site(
            store, replace(site, cameras=[replace(c, source=camera_source) for c in site.cameras])
        )
        await seed_demo_users(store)
        system = build_system(
            store, detector, clock, AuthConfig.for_demo(), timezone=site.timezone, policies=policies
        )
        await system.start(None if start_cameras else ())
        if prepare is not None:
            await prepare(system)
        offer_loopback_only()
        server = uvicorn.Server(
            uvicorn.Config(system.app, host="127.0.0.1", port=port, log_level="error", lifespan="off")
        )
        box.update(system=system, server=server, loop=asyncio.get_running_loop())
        ready.set()
        try:
            await server.serve()
        finally:
            await system.stop()
            await store.close()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(60), "the in-process API did not start"
    base = f"http://127.0.0.1:{port}"
    assert wait_for(lambda: is_up(base), 30)
    try:
        yield InProcessApi(base, box["system"], box["loop"])
    finally:
        box["server"].should_exit = True
        thread.join(30)


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``gridwatch ARGS`` to completion as a user would, capturing its output."""
    return subprocess.run(
        [sys.executable, "-c", "from api.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else None,
        timeout=timeout_s,
    )
