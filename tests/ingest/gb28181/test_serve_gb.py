"""``gridwatch serve`` with a ``gb28181:`` section runs the platform: a SIPp device registers with it, its
catalog becomes cameras and its crowd alarm an incident, and ``gridwatch gb status`` lists it all."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.api.test_serve import SECRET, site_file
from tests.conftest import SHARED_MODELS
from tests.ingest.gb28181.test_sipp import CHANNELS, DEVICE, DOMAIN, PLATFORM, SCENARIOS, device_args
from tests.servers import free_port, run_cli, running_cli, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("sipp") is None, reason="SIPp (Debian's sip-tester) is not installed"),
]


def test_serve_takes_a_gb28181_device_and_gb_status_lists_it(
    tmp_path: Path, vtest: Path, db_url: str
) -> None:
    if not (SHARED_MODELS / "yolov8n_int8_openvino_model").is_dir():
        pytest.skip(f"{SHARED_MODELS} is not beside the checkout")
    config = site_file(tmp_path, vtest)
    site = yaml.safe_load(config.read_text(encoding="utf-8"))
    sip_port = free_port()
    site["gb28181"] = {
        "platform_id": PLATFORM,
        "domain": DOMAIN,
        "host": "127.0.0.1",
        "port": sip_port,
        "password": "${GB_DEVICE_PASSWORD}",
        "keepalive_s": 1,
        "offline_after_missed": 3,
        "default_lonlat": [118.6301, 35.7906],
        "alarms": [{"method": 5, "type": 10, "kind": "crowd"}, {"method": 5, "type": 2, "kind": "attach"}],
    }
    config.write_text(yaml.safe_dump(site, allow_unicode=True), encoding="utf-8")
    port = free_port()
    env = {
        **os.environ,
        "GRIDWATCH_DATABASE_URL": db_url,
        "GRIDWATCH_SECRET_KEY": SECRET,
        "GB_DEVICE_PASSWORD": "dev-Secret-9c",
    }
    args = ["serve", "--config", str(config), "--port", str(port)]
    with running_cli(args, env=env, log_path=tmp_path / "serve.log", port=port):
        device = subprocess.run(
            ["sipp", *device_args(sip_port, "device.xml"), "-oocsf", str(SCENARIOS / "device_catalog.xml"),
             "-nostdin", "-timeout", "30s", "-timeout_error"],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert device.returncode == 0, device.stdout[-2000:]

        def listed() -> str | None:
            status = run_cli("gb", "status", env={**env, "COLUMNS": "300", "NO_COLOR": "1"})
            return (
                status.stdout if status.returncode == 0 and status.stdout.count(" camera 34") == 4 else None
            )

        text = wait_for(listed, 30, 0.5)
        assert text is not None, (tmp_path / "serve.log").read_text()
        assert DEVICE in text and "udp 127.0.0.1:" in text and "keepalive " in text
        assert all(f"camera {c}" in text for c in CHANNELS) and "东关路口一" in text and "stream none" in text
        as_json = run_cli("gb", "status", "--json", env=env)
        document = json.loads(as_json.stdout)
        assert [d["id"] for d in document["devices"]] == [DEVICE] and len(document["channels"]) == 4

        def incident() -> list[dict] | None:  # type: ignore[type-arg]
            # The site's own camera plays the demo video and may open crowd incidents of its own meanwhile.
            found = run_cli("incidents", "--json", env=env)
            items = json.loads(found.stdout) if found.returncode == 0 else []
            return [i for i in items if i["camera_id"] == CHANNELS[0]] or None

        items = wait_for(incident, 30, 0.5)
        assert items is not None, (tmp_path / "serve.log").read_text()
        assert [i["kind"] for i in items] == ["crowd"]
