"""``gridwatch serve --config site.yaml`` runs issue 15's sign-in hardening as the site file says: its
``sign_in:`` lockout, its ``metrics:`` scrape key from the environment, the security headers; a password
changed with ``gridwatch user add`` revokes the sessions the old one opened."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
import yaml

from tests.api.test_serve import SECRET, site_file
from tests.conftest import SHARED_MODELS
from tests.servers import free_port, run_cli, running_cli

pytestmark = pytest.mark.slow
SCRAPE_KEY = "scrape-key-from-the-environment"


def test_serve_locks_accounts_and_lets_prometheus_in_as_the_site_file_says(
    tmp_path: Path, vtest: Path, db_url: str
) -> None:
    if not (SHARED_MODELS / "yolov8n_int8_openvino_model").is_dir():
        pytest.skip(f"{SHARED_MODELS} is not beside the checkout")
    config = site_file(tmp_path, vtest)
    site = yaml.safe_load(config.read_text(encoding="utf-8"))
    site["sign_in"] = {"max_failures": 3, "lockout_minutes": 30}
    site["metrics"] = {"api_key_env": "GW_SCRAPE_KEY"}
    config.write_text(yaml.safe_dump(site, allow_unicode=True), encoding="utf-8")
    env = {**os.environ, "GRIDWATCH_DATABASE_URL": db_url, "GRIDWATCH_SECRET_KEY": SECRET}
    env["GW_SCRAPE_KEY"] = SCRAPE_KEY
    for user, password in (("ops", "a long admin password"), ("desk", "the desk's first password")):
        added = run_cli(
            "user", "add", user, "--role", "admin", env={**env, "GRIDWATCH_NEW_PASSWORD": password}
        )
        assert added.returncode == 0, added.stderr
    port = free_port()
    args = ["serve", "--config", str(config), "--port", str(port)]
    with running_cli(args, env=env, log_path=tmp_path / "serve.log", port=port) as base:

        def sign_in(user: str, password: str) -> httpx.Response:
            return httpx.post(
                f"{base}/api/auth/token", json={"username": user, "password": password}, timeout=10
            )

        statuses = [sign_in("ops", "not the password").status_code for _ in range(3)]
        assert statuses == [401, 401, 423]
        locked = sign_in("ops", "a long admin password")
        assert locked.status_code == 423 and "account locked until" in locked.json()["detail"]
        assert 29 * 60 < int(locked.headers["Retry-After"]) <= 30 * 60 + 1
        # The way back for a locked admin: the command line lifts the lock (once; then there is none).
        assert run_cli("user", "unlock", "ops", env=env).returncode == 0
        again = run_cli("user", "unlock", "ops", env=env)
        assert again.returncode == 2 and again.stderr.strip() == "error: ops is not locked"
        ops = sign_in("ops", "a long admin password")
        assert ops.status_code == 200
        ended = run_cli("user", "sign-out", "ops", env=env)
        assert ended.returncode == 0 and "1 sessions ended" in ended.stdout
        ops_me = httpx.get(
            f"{base}/api/auth/me",
            headers={"Authorization": f"Bearer {ops.json()['access_token']}"},
            timeout=10,
        )
        assert ops_me.status_code == 401

        metrics = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {SCRAPE_KEY}"}, timeout=10)
        assert metrics.status_code == 200
        assert "# TYPE gridwatch_incidents_opened_total counter" in metrics.text
        assert 'gridwatch_camera_state{camera="cam-dongguan-road"' in metrics.text
        assert httpx.get(f"{base}/metrics", params={"key": "wrong"}, timeout=10).status_code == 401

        page = httpx.get(f"{base}/login", timeout=10)
        assert "script-src 'self';" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"

        # A new password set from the command line ends the sessions the old one opened.
        desk = sign_in("desk", "the desk's first password")
        assert desk.status_code == 200
        changed = run_cli(
            "user",
            "add",
            "desk",
            "--role",
            "admin",
            env={**env, "GRIDWATCH_NEW_PASSWORD": "the desk's new password"},
        )
        assert changed.returncode == 0, changed.stderr
        refresh = httpx.post(
            f"{base}/api/auth/refresh", json={"refresh_token": desk.json()["refresh_token"]}, timeout=10
        )
        assert refresh.status_code == 401
        me = httpx.get(
            f"{base}/api/auth/me",
            headers={"Authorization": f"Bearer {desk.json()['access_token']}"},
            timeout=10,
        )
        assert me.status_code == 401
        assert sign_in("desk", "the desk's new password").status_code == 200
