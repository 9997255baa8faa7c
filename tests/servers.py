"""Start ``gridwatch`` server commands as subprocesses on a free loopback port, as a user would."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx


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
) -> Iterator[str]:
    """Yield the base URL once ``/api/health`` answers; stop the process afterwards."""
    base = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        command = [sys.executable, "-c", code, *args]
        proc = subprocess.Popen(command, env=dict(env), stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + ready_timeout_s
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"server exited with {proc.returncode}:\n{log_path.read_text()}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"server not ready in {ready_timeout_s} s:\n{log_path.read_text()}")
                try:
                    if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.5)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(predicate, timeout_s: float, interval_s: float = 1.0):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns something truthy; return it, or None on time-out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    return None
