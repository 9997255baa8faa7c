"""``gridwatch serve`` as a user runs it hears ``gridwatch import-roster`` run beside it, with no restart."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.api.test_serve import SECRET, site_file
from tests.conftest import DEMO_DIR, SHARED_MODELS
from tests.servers import free_port, run_cli, running_cli, wait_for

pytestmark = pytest.mark.slow
GRID_1 = "379901001001001"


def test_import_roster_beside_a_running_serve_reaches_its_router(
    tmp_path: Path, vtest: Path, db_url: str
) -> None:
    if not (SHARED_MODELS / "yolov8n_int8_openvino_model").is_dir():
        pytest.skip(f"{SHARED_MODELS} is not beside the checkout")
    config = site_file(tmp_path, vtest)
    env = {**os.environ, "GRIDWATCH_DATABASE_URL": db_url, "GRIDWATCH_SECRET_KEY": SECRET}
    admin = run_cli(
        "user",
        "add",
        "ops",
        "--role",
        "admin",
        env={**env, "GRIDWATCH_NEW_PASSWORD": "a long admin password"},
    )
    assert admin.returncode == 0, admin.stderr
    port = free_port()
    with running_cli(
        ["serve", "--config", str(config), "--port", str(port)],
        env=env,
        log_path=tmp_path / "serve.log",
        port=port,
    ) as base:
        token = httpx.post(
            f"{base}/api/auth/token",
            json={"username": "ops", "password": "a long admin password"},
            timeout=10,
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        def roster() -> dict:  # type: ignore[type-arg]
            response = httpx.get(f"{base}/api/roster/{GRID_1}", headers=headers, timeout=10)
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]

        before = roster()
        assert {s["worker_id"] for s in before["shifts"]} == {"w001", "w002", "w008"}
        rows = (DEMO_DIR / "roster.csv").read_text(encoding="utf-8").splitlines()
        changed = tmp_path / "roster.csv"
        changed.write_text(
            "\n".join(r.replace("w001,王芳", "w031,韩梅") for r in rows) + "\n", encoding="utf-8"
        )
        imported = run_cli("import-roster", str(changed), env=env)
        assert imported.returncode == 0, imported.stderr

        # "version" is the roster version the serve's router is using: it moves only when it reloaded.
        after = wait_for(lambda: (r := roster())["version"] > before["version"] and r, 10, interval_s=0.2)
        assert after, (tmp_path / "serve.log").read_text()
        assert {s["worker_id"] for s in after["shifts"]} == {"w031", "w002", "w008"}
        assert "roster reloaded at version" in (tmp_path / "serve.log").read_text()
