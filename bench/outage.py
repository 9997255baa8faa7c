"""A township cut from the hub for 10 minutes: the time to drain its backlog (issue 13, 4d).

The county of bench/county.py (a hub, one leaf per township, the real centre, scripted detectors in a process
of their own publishing at the normal rate) with one township's uplink running through a TCP relay. The
relay is cut; the township goes on publishing into its leaf: ten minutes of its normal rate, with capture
times spread over the ten minutes before the uplink returns (time compressed: the backlog is the size ten
minutes make, published in seconds). Then the uplink is restored and the clock runs until the centre has
committed the township's every event; meanwhile the other townships keep publishing, and their event →
incident latency during the drain is measured too.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import Section, percentile
from bench.county_parts import (
    LagProbe,
    Township,
    Uplink,
    count,
    county_cameras,
    county_centre,
    county_servers,
    ensure_townships,
    episode,
    publish_at_rate,
    township_code,
    warm_up,
)
from bench.postgres import embedded_postgres, fresh_database, load_demo_county

#: One episode per camera per minute, as in bench/county.py.
PERIOD_S = 60.0
OUTAGE = timedelta(minutes=10)


def _shape(quick: bool) -> tuple[int, int, float]:
    """(townships, cameras per township, seconds the others publish while the cut one drains)."""
    return (2, 5, 2.0) if quick else (20, 100, 60.0)


async def _measure(url: str, townships: int, per_township: int, others_s: float) -> dict[str, Any]:
    from api.nats.servers import cluster
    from models.store import Store

    codes = [township_code(n) for n in range(townships)]
    cut = codes[0]
    cameras, _ = county_cameras(codes, per_township)
    backlog = int(OUTAGE.total_seconds() / PERIOD_S * per_township)
    store = await Store.connect(url)
    try:
        await load_demo_county(store, cameras)
        with county_servers([]) as hub_only:  # the hub first: the cut township's relay dials its port
            layout = cluster(hub_only.hub.directory.parent / "county", codes)
            layout.hub = hub_only.hub
            uplink = Uplink(hub_only.hub.leaf_port or 0)
            await uplink.start()
            for code, leaf in layout.leaves.items():
                leaf.hub_leaf_port = uplink.port if code == cut else hub_only.hub.leaf_port
                leaf.start()
            try:
                found = await _drain(store, layout, uplink, codes, cut, per_township, backlog, others_s)
            finally:
                for leaf in layout.leaves.values():
                    leaf.stop()
                await uplink.aclose()
    finally:
        await store.close()
    return found | {"backlog": backlog}


async def _drain(
    store: Any,
    layout: Any,
    uplink: Uplink,
    codes: list[str],
    cut: str,
    per_township: int,
    backlog: int,
    others_s: float,
) -> dict[str, Any]:
    from api.nats.servers import leaf_domain

    leaves = [(c, layout.leaves[c].url, leaf_domain(c)) for c in codes]
    _, placed = county_cameras(codes, per_township)
    of_cut = f"SELECT count(*) FROM events WHERE camera_id LIKE 'cam-{cut}-%' AND camera_id NOT LIKE '%-warm'"
    await ensure_townships(leaves)
    async with county_centre(store, layout.hub.url, codes, placed):
        await warm_up(store, leaves)
        uplink.cut()
        # The others keep their normal rate through the outage and the drain, in a process of their own.
        others = [leaf for leaf in leaves if leaf[0] != cut]
        process = multiprocessing.get_context("spawn").Process(
            target=publish_at_rate, args=(others, per_township, PERIOD_S, others_s)
        )
        process.start()
        township = Township(*leaves[0])
        await township.connect()
        rng = random.Random(7)
        now = datetime.now(UTC)
        messages = [
            m
            for k in range(backlog)
            for m in episode(rng, f"cam-{cut}-{k % per_township:03d}", now - OUTAGE + OUTAGE * k / backlog)
        ]
        try:
            await township.publish(messages)
        finally:
            await township.close()
        held = await count(store, of_cut)
        restored = datetime.now(UTC)
        began = time.monotonic()
        uplink.restore()
        async with LagProbe(layout.hub.url) as probe:
            while (drained := await count(store, of_cut)) < backlog:
                await probe.sample()
                if time.monotonic() - began > 600:
                    raise TimeoutError(
                        f"{backlog - drained} of the cut township's events not drained in 600 s"
                    )
                await asyncio.sleep(0.05)
        drain_s = time.monotonic() - began
        finished = datetime.now(UTC)
        process.join()
    rows = await store.pool.fetch(
        "SELECT extract(epoch FROM created_at - started_at)::float8 AS delay FROM events"
        " WHERE camera_id NOT LIKE $1 AND camera_id NOT LIKE '%-warm' AND created_at BETWEEN $2 AND $3",
        f"cam-{cut}-%",
        restored,
        finished,
    )
    return {
        "held": held,
        "drain_s": drain_s,
        "drained": drained,
        "max_lag": probe.most.get(cut, 0),
        "others": [r["delay"] for r in rows],
    }


async def _run(quick: bool) -> Section:
    townships, per_township, others_s = _shape(quick)
    with embedded_postgres() as admin_url:
        async with fresh_database(admin_url) as url:
            found = await _measure(url, townships, per_township, others_s)
    others: list[float] = found["others"]
    backlog = found["backlog"]
    rate = backlog / found["drain_s"] if found["drain_s"] else float("nan")
    complete = found["drained"] == backlog and found["held"] == 0
    return Section(
        key="outage",
        title="A township's 10-minute outage: draining its backlog",
        columns=[
            "backlog events",
            "messages",
            "held at the centre while cut",
            "drain s",
            "events/s",
            "max source lag",
            "other townships' p95 ms during the drain",
        ],
        rows=[
            [
                backlog,
                2 * backlog,
                found["held"],
                found["drain_s"],
                rate,
                found["max_lag"],
                percentile(others, 95) * 1000,
            ]
        ],
        headline=f"{backlog:,} events (10 min of {per_township} cameras) drained in {found['drain_s']:.1f} s "
        f"after the uplink returned; all arrived once: {'yes' if complete else 'NO'}",
        target="measure the time to drain a 10-minute backlog (no target set)",
        met=None if complete else False,
        notes=[
            f"{townships} townships of {per_township} cameras, one episode (START + END) per camera per "
            f"{PERIOD_S:.0f} s. Township {township_code(0)}'s leaf reaches the hub through a TCP relay in "
            "the benchmark's process; cutting it closes the leaf's connection and refuses new ones.",
            "While cut, the township publishes the backlog ten minutes of its normal rate make, with capture "
            "times spread over those ten minutes (time compressed: published in seconds); its leaf stores "
            "them in its file-backed stream. The centre holds none of them until the relay is restored.",
            "Drain: from restoring the relay (the leaf redials within its 1 s reconnect) until the centre "
            "has committed every backlog event, sourced across domains, fetched, routed and committed. The "
            "other townships publish at their normal rate throughout, from a process of their own; their "
            "latency is over the events they committed during the drain.",
        ],
        figures={
            "drain_s": found["drain_s"],
            "events_per_s": rate,
            "backlog": float(backlog),
            "complete": float(complete),
        },
    )


def run(quick: bool) -> Section:
    return asyncio.run(_run(quick))
