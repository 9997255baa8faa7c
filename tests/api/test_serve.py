"""``gridwatch serve --config site.yaml``: a site file with its grids and roster runs the whole loop."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import DEMO_DIR, REPO, SHARED_MODELS
from tests.mosquitto import Broker, retained_now, running_broker
from tests.servers import free_port, run_cli, running_cli, wait_for

pytestmark = pytest.mark.slow
SECRET = "test-only-signing-key-0123456789abcdef"


class HookReceiver(ThreadingHTTPServer):
    """A local webhook endpoint that keeps what it is sent."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], dict]] = []  # type: ignore[type-arg]
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def site_file(tmp_path: Path, vtest: Path, webhook: str | None = None, mqtt_port: int | None = None) -> Path:
    site = yaml.safe_load((REPO / "docs" / "site.example.yaml").read_text(encoding="utf-8"))
    camera = site["cameras"][0]
    camera["source"] = str(vtest)  # a local file instead of the example's documentation-range address
    site["notifications"] = (
        [{"type": "webhook", "url": webhook, "secret_env": "GW_HOOK_SECRET"}] if webhook else []
    )
    site["grids_file"] = str(DEMO_DIR / "grids.geojson")
    site["roster_file"] = str(DEMO_DIR / "roster.csv")
    site["detectors"] = {
        "person": {"weights": str(SHARED_MODELS / "yolov8n_int8_openvino_model"), "imgsz": 640}
    }
    if mqtt_port is not None:
        site["mqtt"] = {"host": "127.0.0.1", "port": mqtt_port, "client_id": "gw-serve"}
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with running_broker(tmp_path / "broker") as running:
        yield running


def test_serve_runs_the_configured_site(tmp_path: Path, vtest: Path, db_url: str, broker: Broker) -> None:
    if not (SHARED_MODELS / "yolov8n_int8_openvino_model").is_dir():
        pytest.skip(f"{SHARED_MODELS} is not beside the checkout")
    hooks = HookReceiver()
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{hooks.server_address[1]}/hook"
    config = site_file(tmp_path, vtest, webhook=hook_url, mqtt_port=broker.port)
    port = free_port()
    env = {
        **os.environ,
        "GRIDWATCH_DATABASE_URL": db_url,
        "GRIDWATCH_SECRET_KEY": SECRET,
        "GW_HOOK_SECRET": "hook-secret",
    }
    admin = run_cli(
        "user",
        "add",
        "ops",
        "--role",
        "admin",
        env={**env, "GRIDWATCH_NEW_PASSWORD": "a long admin password"},
    )
    assert admin.returncode == 0, admin.stderr
    args = ["serve", "--config", str(config), "--port", str(port)]
    with running_cli(args, env=env, log_path=tmp_path / "serve.log", port=port) as base:
        token = httpx.post(
            f"{base}/api/auth/token",
            json={"username": "ops", "password": "a long admin password"},
            timeout=10,
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        def analysing() -> dict | None:  # type: ignore[type-arg]
            health = httpx.get(f"{base}/api/status", headers=headers, timeout=5).json()
            camera = health["cameras"]["cam-dongguan-road"]
            return health if camera["state"] == "online" and camera["analysed_frames"] >= 3 else None

        health = wait_for(analysing, 60)
        assert health is not None, (tmp_path / "serve.log").read_text()
        assert health["counts"]["grids"] == 11 and health["counts"]["shifts"] == 15
        assert health["detector"]["cannot_see"] == {}  # the COCO export sees persons, vehicles and stalls
        # The example's camera has a fire zone and fire-detector is installed (the [fire] extra).
        assert "fire/smoke detection: on" in (tmp_path / "serve.log").read_text()
        snapshot = httpx.get(f"{base}/api/cameras/cam-dongguan-road/snapshot.jpg", headers=headers, timeout=5)
        assert snapshot.status_code == 200 and snapshot.content[:2] == b"\xff\xd8"
        metrics = httpx.get(f"{base}/metrics", headers=headers, timeout=5).text
        assert 'gridwatch_camera_online{camera="cam-dongguan-road"} 1.0' in metrics
        # One process, no NATS: one local township, up, no lag, this process its one node.
        assert 'gridwatch_link_up{township="local"} 1.0' in metrics
        assert 'gridwatch_node_cameras{node="local",township="local"} 1.0' in metrics
        [local] = httpx.get(f"{base}/api/health/townships", headers=headers, timeout=5).json()
        assert (local["code"], local["link_up"], local["lag_messages"]) == ("local", True, 0)
        assert [n["cameras"] for n in local["nodes"]] == [1]
        assert (
            httpx.get(f"{base}/api/cameras/nope/snapshot.jpg", headers=headers, timeout=5).status_code == 404
        )
        # The KPIs and their page are served (their figures: tests/api/test_kpis.py).
        kpis = httpx.get(f"{base}/api/kpis", params={"by": "township", "format": "xlsx"}, headers=headers)
        assert kpis.status_code == 200 and kpis.content[:2] == b"PK", kpis.text[:200]
        assert 'src="/static/kpis.js"' in httpx.get(f"{base}/kpis", timeout=5).text
        # MQTT (the site's mqtt:): the centre and its camera are "online", retained for late subscribers.
        camera_topic = "gridwatch/cam-dongguan-road/available"
        retained = retained_now(broker.port, ["gridwatch/available", camera_topic])
        assert retained == {"gridwatch/available": b"online", camera_topic: b"online"}, broker.log()[-2000:]
    # Stopped, the centre said goodbye: "offline" is what a dashboard now finds.
    assert retained_now(broker.port, ["gridwatch/available"]) == {"gridwatch/available": b"offline"}


@pytest.mark.parametrize("secret", [None, "changeme", "short-but-not-default"])
def test_serve_refuses_default_or_weak_secrets(tmp_path: Path, vtest: Path, secret: str | None) -> None:
    config = site_file(tmp_path, vtest)
    env = {k: v for k, v in os.environ.items() if k != "GRIDWATCH_SECRET_KEY"}
    if secret is not None:
        env["GRIDWATCH_SECRET_KEY"] = secret
    result = run_cli("serve", "--config", str(config), env=env)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: GRIDWATCH_SECRET_KEY")


def test_serve_refuses_a_broken_site_file(tmp_path: Path, vtest: Path) -> None:
    config = site_file(tmp_path, vtest)
    env = {**os.environ, "GRIDWATCH_SECRET_KEY": SECRET}
    config.write_text(
        config.read_text(encoding="utf-8").replace("min_persons", "min_person", 1), encoding="utf-8"
    )
    result = run_cli("serve", "--config", str(config), env=env)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: site.yaml:")
    assert line.endswith("cameras[0].zones[0].min_person: unknown key (did you mean 'min_persons'?)")


def test_demo_on_a_taken_port_says_so_in_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("demo", "--port", str(port))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use (choose another with --port)"
    ]
