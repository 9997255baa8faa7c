"""The wall at the county centre shows a cut township: its chip in the link strip turns to down and the
link_down case appears in the incident list, as an operator sees them in Debian's Chromium."""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import uvicorn

from api.auth import AuthConfig
from api.cli.county import running_centre
from api.nats.link import Township
from api.nats.servers import cluster
from api.site import DEMO_PASSWORD, demo_site, load_site, seed_demo_users
from bench.county_parts import Uplink
from models.clock import SystemClock
from models.records import EventKind
from models.store import Store
from tests.api.test_link_health import EAST, LINK, _township
from tests.api.test_nats_link import until
from tests.servers import free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
CHECK = Path(__file__).with_name("links_check.mjs")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
async def test_the_wall_shows_a_cut_township_and_its_case(tmp_path: Path, store: Store) -> None:
    if not (REPO / "node_modules" / "playwright-core").is_dir():
        pytest.fail("playwright-core missing: run ./run setup")
    servers = cluster(tmp_path / "county", [EAST])
    uplink = Uplink(servers.hub.leaf_port or 0)
    await uplink.start()
    servers.leaves[EAST].hub_leaf_port = uplink.port
    servers.start()
    site = demo_site()
    await load_site(store, replace(site, cameras=[replace(c, source="unused.avi") for c in site.cameras]))
    await seed_demo_users(store)
    townships = [Township(EAST, servers.leaves[EAST].domain)]
    try:
        async with running_centre(
            servers.hub.url, store, SystemClock(), AuthConfig.for_demo(), townships, link_options=LINK
        ) as centre:
            port = free_port()
            config = uvicorn.Config(
                centre.app, host="127.0.0.1", port=port, log_level="error", lifespan="off"
            )
            server = uvicorn.Server(config)
            serving = asyncio.create_task(server.serve())

            async def answered() -> bool:
                return _township(centre, EAST).rtt_s is not None and server.started

            await until(answered, what="the township's server answering, the wall served")
            uplink.cut()

            async def case() -> bool:
                kind = EventKind.LINK_DOWN.value
                return bool(await store.pool.fetchval("SELECT count(*) FROM incidents WHERE kind = $1", kind))

            await until(case, timeout_s=15, what="the link case")
            browser = await asyncio.create_subprocess_exec(
                "node",
                str(CHECK),
                f"http://127.0.0.1:{port}/",
                DEMO_PASSWORD,
                cwd=REPO,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(browser.communicate(), 120)
            server.should_exit = True
            await serving
    finally:
        await uplink.aclose()
        servers.stop()
    assert browser.returncode == 0, err.decode()
    seen = json.loads(out.decode().strip().splitlines()[-1])
    assert seen["errors"] == []
    [chip] = seen["links"]
    # The township named as the map names it, its link down.
    assert chip.startswith("link down|城关街道 断开"), chip
    assert any("乡镇链路中断" in text for text in seen["incidents"]), seen["incidents"]
