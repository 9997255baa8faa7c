"""The KPI page in Chromium shows the figures of the 32-case fixture (tests/kpi_fixture.py) as the API
computes them (tests/api/test_kpis.py checks those against hand-computed values)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from api.site import DEMO_PASSWORD
from models.db import Database
from models.store import Store
from tests.conftest import REPO, fresh_database
from tests.kpi_fixture import G1, G2, G3, G4, build
from tests.rig import demo_rig
from tests.servers import free_port, is_up, wait_for

pytestmark = pytest.mark.slow

CHECK = Path(__file__).with_name("kpi_page.mjs")


@pytest.fixture
def kpi_service(postgres: Database) -> Iterator[str]:
    """The app over the fixture's cases, served by uvicorn in a thread with its own event loop."""
    port = free_port()
    box: dict[str, Any] = {}
    ready = threading.Event()

    async def main() -> None:
        async with fresh_database(postgres) as url:
            store = await Store.connect(url)
            rig = await demo_rig(store)
            await build(rig)
            server = uvicorn.Server(
                uvicorn.Config(rig.app, host="127.0.0.1", port=port, log_level="error", lifespan="off")
            )
            box["server"] = server
            ready.set()
            try:
                await server.serve()
            finally:
                await rig.stop()
                await store.close()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(120), "the KPI fixture was not built"
    base = f"http://127.0.0.1:{port}"
    assert wait_for(lambda: is_up(base), 30)
    try:
        yield base
    finally:
        box["server"].should_exit = True
        thread.join(30)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_kpi_page_renders_the_figures(kpi_service: str, tmp_path: Path) -> None:
    if not (REPO / "node_modules" / "playwright-core").is_dir():
        pytest.fail("playwright-core missing: run ./run setup")
    shot = tmp_path / "kpis.png"
    result = subprocess.run(
        ["node", str(CHECK), kpi_service + "/", DEMO_PASSWORD, "2026-11-23", "2026-11-23", str(shot)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["errors"] == [] and seen["external"] == []
    grid = seen["grid"]
    assert list(grid) == [G1, G2, G3, G4, "total"]
    assert grid[G1]["name"] == "东关一网格"
    assert (grid[G1]["cases"], grid[G1]["filed"]) == ("11", "11")
    assert grid[G1]["closure_rate"] == "90.91% 10/11"
    assert grid[G1]["on_time_rate"] == "81.82% 9/11"
    assert grid[G1]["rework_rate"] == "10.00% 1/10"
    assert grid[G1]["accept_p90_s"] == "20′00″"  # 1200 s
    assert grid[G1]["resolve_p90_s"] == "1h40′"  # 6000 s
    assert (grid[G1]["late_accept"], grid[G1]["late_arrive"], grid[G1]["late_resolve"]) == ("2", "1", "2")
    assert grid[G1]["duplicates_merged"] == "2"
    assert grid[G3]["camera_share"] == "25.00% 1/4"
    assert grid[G3]["arrive_p90_s"] == "25′00″"  # 1500 s
    assert grid[G4]["resolve_p90_s"] == "5h00′"  # 18000 s
    total = grid["total"]
    assert (total["cases"], total["closure_rate"], total["on_time_rate"]) == (
        "32",
        "85.71% 24/28",
        "71.43% 20/28",
    )
    assert (total["rework_rate"], total["camera_share"]) == ("12.50% 3/24", "8.33% 2/24")
    assert "按期处置率 On time" in seen["headers"] and "返工率 Rework" in seen["headers"]
    assert seen["xlsx"] == "/api/kpis?by=grid&from=2026-11-23&to=2026-11-23&format=xlsx"
    assert list(seen["worker"]) == ["w001", "w002", "w003", "w007", "w015", "total"]
    assert seen["worker"]["w002"]["name"] == "李强"
    assert "the range is empty" in seen["error"]
    assert shot.stat().st_size > 20_000
    if os.environ.get("GRIDWATCH_SAVE_SCREENSHOT"):
        shutil.copy(shot, "/tmp/kp/kpis.png")
