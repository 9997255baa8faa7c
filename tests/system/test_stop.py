"""SIGTERM (``docker stop``, a plain ``kill``) stops a running gridwatch as Ctrl-C does.

Uvicorn shuts its server down on SIGTERM and then raises the signal again; with Python's default action
that ended the process on the spot, before the cameras, the store and the embedded PostgreSQL were
stopped, and left the database server running under the data directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.servers import free_port, is_up

pytestmark = pytest.mark.slow


def _alive(pid: int) -> bool:
    """Running: a process that exited but is not yet reaped (a zombie, state Z) is not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_a_stop_signal_closes_the_demo_and_its_postgres(tmp_path: Path, stop: signal.Signals) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GRIDWATCH_DATABASE_URL"}
    data, port = tmp_path / "data", free_port()
    command = [sys.executable, "-c", "from api.cli import main; main()", "demo", "--port", str(port)]
    log_path = tmp_path / "demo.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([*command, "--data-dir", str(data)], env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 120
            while not is_up(f"http://127.0.0.1:{port}"):
                assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.5)
            pid_file = data / "demo" / "pg" / "postmaster.pid"
            postmaster = int(pid_file.read_text().split("\n")[0])
            assert _alive(postmaster)
            proc.send_signal(stop)
            returncode = proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = log_path.read_text()
    assert returncode == 0, text
    # PostgreSQL removes its pid file when it has shut down cleanly.
    assert not pid_file.exists(), text
    assert not _alive(postmaster), text
