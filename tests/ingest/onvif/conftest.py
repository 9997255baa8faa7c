"""The virtual ONVIF camera (ipycam, run by the shared checkout's peers/) as a child process on loopback."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import SHARED
from tests.ingest.rtsp_peer import free_port

PEER = SHARED / "peers" / "onvif_camera.py"
CAMERA_USER = "admin"
CAMERA_PASSWORD = "canary-Onvif-91c3e0"


@dataclass(frozen=True)
class OnvifPeer:
    onvif_port: int
    rtsp_port: int


@pytest.fixture(scope="session")
def onvif_peer(vtest: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OnvifPeer]:
    try:
        import ipycam  # noqa: F401
    except ImportError:
        pytest.skip("ipycam is not installed: pip install --no-deps ipycam==1.3.0")
    peer = OnvifPeer(free_port(), free_port())
    log = tmp_path_factory.mktemp("onvif") / "camera.log"
    ports = ["--onvif-port", str(peer.onvif_port), "--rtsp-port", str(peer.rtsp_port)]
    login = ["--user", CAMERA_USER, "--password", CAMERA_PASSWORD]
    argv = [sys.executable, str(PEER), "--video", str(vtest), *ports, *login]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while b"READY" not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the virtual ONVIF camera did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.1)
        yield peer
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
