"""The wheel is the product: built from the checkout, installed elsewhere, it runs ``gridwatch demo`` with
its pages, migrations and demo county inside the package and nothing read from the source tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from api.site import DEMO_PASSWORD
from tests.servers import free_port, running_cli

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("models", "ingest", "detect", "router", "api")


def _build_wheel(tmp: Path) -> Path:
    # Built from a copy of what the distribution is made of, so the checkout gets no build/ or egg-info.
    source = tmp / "source"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, source / package, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    wheels = tmp / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(wheels),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("gridwatch-*.whl")
    return wheel


def test_the_wheel_runs_the_demo_outside_the_checkout(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert "api/static/index.html" in names
    assert "api/demo/grids.geojson" in names and "api/demo/roster.csv" in names
    assert any(n.startswith("models/db/migrations/") and n.endswith(".sql") for n in names)
    assert not any(n.startswith("tests/") for n in names)

    target = tmp_path / "site-packages"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GRIDWATCH_MODEL_DIRS", "GRIDWATCH_DATABASE_URL", "PYTHONPATH")
    }
    env["PYTHONPATH"] = str(target)
    # The venv also holds the checkout as an editable install: fail unless the wheel's copy is the one run.
    code = (
        "import api, models; from pathlib import Path; "
        f"assert Path(api.__file__).is_relative_to({str(target)!r}), api.__file__; "
        f"assert Path(models.__file__).is_relative_to({str(target)!r}), models.__file__; "
        "from api.cli import main; main()"
    )
    port = free_port()
    args = ["demo", "--port", str(port), "--data-dir", str(tmp_path / "data")]
    with running_cli(
        args, env=env, log_path=tmp_path / "demo.log", port=port, code=code, cwd=elsewhere
    ) as base:
        page = httpx.get(f"{base}/", timeout=10)
        assert page.status_code == 200 and "<html" in page.text.lower()
        token = httpx.post(
            f"{base}/api/auth/token", json={"username": "command", "password": DEMO_PASSWORD}, timeout=10
        )
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        grids = httpx.get(f"{base}/api/grids", headers=headers, timeout=10)
        assert grids.status_code == 200, grids.text
        body = grids.json()
        features = body["features"] if isinstance(body, dict) and "features" in body else body
        assert len(features) == 11
