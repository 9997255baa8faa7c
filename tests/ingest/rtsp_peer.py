"""Drive the real GStreamer RTSP server (peers/rtsp_server.py of the shared checkout) as a child process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.conftest import REPO, SHARED

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER_SCRIPT = SHARED / "peers" / "rtsp_server.py"


def gi_missing_reason() -> str | None:
    """Why the server cannot run here, or None when Debian's python has GObject introspection."""
    try:
        subprocess.run([SYSTEM_PYTHON, "-c", "import gi"], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return (
            f"{SYSTEM_PYTHON} cannot import gi: install the RTSP peer with "
            f"`sh {SHARED / 'peers' / 'install.sh'} {REPO / '.venv' / 'bin' / 'python'}` (as root)"
        )
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RtspPeer:
    """One server process on a fixed loopback port; can be killed, paused and started again."""

    def __init__(
        self,
        video: Path,
        log_dir: Path,
        *,
        user: str | None = None,
        password: str | None = None,
        fps: int = 10,
    ) -> None:
        self.port = free_port()
        self.video = video
        self.log_dir = log_dir
        self.user = user
        self.password = password
        self.fps = fps
        self.process: subprocess.Popen[bytes] | None = None
        self._starts = 0

    def url(self, mount: str = "cam1", *, user: str | None = None, password: str | None = None) -> str:
        userinfo = f"{user}:{password}@" if user is not None else ""
        return f"rtsp://{userinfo}127.0.0.1:{self.port}/{mount}"

    def start(self, timeout_s: float = 20) -> None:
        self._starts += 1
        log_path = self.log_dir / f"rtsp-{self.port}-{self._starts}.log"
        argv = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port", str(self.port), "--fps", str(self.fps)]
        if self.user is not None:
            argv += ["--user", self.user, "--password", self.password or ""]
        argv.append(f"cam1={self.video}")
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if b"READY" in log_path.read_bytes():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        output = log_path.read_text(errors="replace")
        self.stop()
        raise RuntimeError(f"RTSP server on port {self.port} did not become ready:\n{output}")

    def signal(self, signum: int) -> None:
        assert self.process is not None, "server not started"
        os.kill(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL, as a camera losing power looks to its clients."""
        self.signal(signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # A paused server ignores SIGTERM until continued.
        self.process.send_signal(signal.SIGCONT)
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
