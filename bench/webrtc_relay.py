"""Video wall across the link: what a township camera played at the centre costs the node that serves it.

The layout of docs/deploy.md on loopback, each part its own process: a nats-server, the centre
(``running_centre`` with the video token: the WHEP offers of the wall are forwarded, api/nats/video.py), a
node (``running_node`` with a video port) analysing one RTSP camera, bench/rtsp_file.py playing the
benchmark's 1080p H.264 clip. The viewers are aiortc peer connections in the benchmark process that sign in
at the centre and POST their offers there, as the wall's browser does; the media then flows from the node,
passed through from its analysis pull. The node's and the centre's CPU are read from /proc/PID/stat.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.clips import clip
from bench.common import Section, median
from bench.postgres import demo_cameras, embedded_postgres, fresh_database, load_demo_county
from bench.webrtc import (
    SETTLE_S,
    SYSTEM_PYTHON,
    _free_port,
    _no_decoding,
    _process,
    _viewers,
    cpu_seconds,
    gi_missing_reason,
    slope,
)

RTSP_SERVER = Path(__file__).with_name("rtsp_file.py")
TOWNSHIP = "379901001"
SECRET = "bench-video-token-0123456789abcdef"
TARGET_PERCENT = 2.0


async def _prepare(url: str, rtsp: str) -> None:
    from api.site import seed_demo_users
    from models.store import Store

    store = await Store.connect(url)
    try:
        # Analysed at 1 frame/s: the node serves only cameras it analyses, from that analysis pull.
        await load_demo_county(store, demo_cameras(1, f"{rtsp}/cam", analysis_fps=1.0))
        await seed_demo_users(store)
    finally:
        await store.close()


async def _trial(
    client: httpx.AsyncClient, pids: dict[str, int], count: int, window_s: float
) -> dict[str, float]:
    if count == 0:
        before, began = {k: cpu_seconds(p) for k, p in pids.items()}, time.monotonic()
        await asyncio.sleep(window_s)
        elapsed = time.monotonic() - began
        return {k: (cpu_seconds(p) - before[k]) / elapsed for k, p in pids.items()} | {"packets": 0.0}
    async with _viewers(client, count) as viewers:
        await asyncio.sleep(SETTLE_S)
        packets = [await v.packets() for v in viewers]
        before, began = {k: cpu_seconds(p) for k, p in pids.items()}, time.monotonic()
        await asyncio.sleep(window_s)
        used = {k: cpu_seconds(p) - before[k] for k, p in pids.items()}
        elapsed = time.monotonic() - began
        received = [await v.packets() - p for v, p in zip(viewers, packets, strict=True)]
    await asyncio.sleep(1.0)
    return {k: u / elapsed for k, u in used.items()} | {"packets": min(received) / elapsed}


async def _measure(
    base: str, pids: dict[str, int], counts: tuple[int, ...], passes: int, window_s: float
) -> dict[int, list[dict[str, float]]]:
    from api.site import DEMO_PASSWORD
    from api.webrtc import offer_loopback_only

    offer_loopback_only()
    trials: dict[int, list[dict[str, float]]] = {n: [] for n in counts}
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        login = await client.post("/api/auth/token", json={"username": "command", "password": DEMO_PASSWORD})
        login.raise_for_status()
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        for index in range(passes):
            for count in counts if index % 2 == 0 else reversed(counts):
                trials[count].append(await _trial(client, pids, count, window_s))
    return trials


async def _run(quick: bool) -> Section:
    from api.nats.servers import NatsServer

    reason = gi_missing_reason()
    if reason is not None:
        raise RuntimeError(reason)
    counts = (1, 2) if quick else (0, 1, 2, 4, 8)
    passes, window_s = (1, 4.0) if quick else (2, 10.0)
    path = clip("h264", 12 if quick else 30)
    rtsp_port, api_port, video_port = _free_port(), _free_port(), _free_port()
    with tempfile.TemporaryDirectory(prefix="gridwatch-bench-relay-") as tmp, embedded_postgres() as admin:
        logs = Path(tmp)
        nats = NatsServer("bench", logs / "nats", "bench")
        nats.start()
        try:
            async with fresh_database(admin) as url:
                await _prepare(url, f"rtsp://127.0.0.1:{rtsp_port}")
                rtsp = [SYSTEM_PYTHON, str(RTSP_SERVER), str(rtsp_port), str(path)]
                me = [sys.executable, "-m", "bench.webrtc_relay"]
                centre_argv = [*me, "centre", url, nats.url, str(api_port)]
                node_argv = [*me, "node", nats.url, str(video_port)]
                with (
                    _process(rtsp, logs / "rtsp.log", "READY"),
                    _process(centre_argv, logs / "centre.log", "READY") as centre,
                    _process(node_argv, logs / "node.log", "READY", 90) as node,
                    _no_decoding(),
                ):
                    pids = {"node": node.pid, "centre": centre.pid}
                    trials = await _measure(f"http://127.0.0.1:{api_port}", pids, counts, passes, window_s)
        finally:
            nats.stop()
    node_cpu = {n: median([t["node"] for t in trials[n]]) * 100 for n in counts}
    centre_cpu = {n: median([t["centre"] for t in trials[n]]) * 100 for n in counts}
    packets = {n: median([t["packets"] for t in trials[n]]) for n in counts}
    viewers = [n for n in counts if n > 0]
    per_viewer = slope([(n, node_cpu[n]) for n in viewers])
    rows = [
        [
            n,
            node_cpu[n],
            centre_cpu[n],
            packets[n] if n else None,
            " / ".join(f"{t['node'] * 100:.1f}" for t in trials[n]),
        ]
        for n in counts
    ]
    notes = [
        "Source: the 1080p H.264 clip (25 fps, GOP 25) served over RTSP by bench/rtsp_file.py; the node "
        "analyses it at 1 frame/s (scripted detector: no model) and passes its packets through to the "
        "viewers from that one pull (PacketFanout), no decode or encode per viewer.",
        "Centre: gridwatch centre's code (running_centre with GRIDWATCH_VIDEO_TOKEN's role played by a fixed "
        "token), its WHEP route forwarding each offer to the node found in the township's video directory "
        "(a KV bucket on the NATS server); it holds no peer connection. Node: running_node with a video "
        "port. Each its own process on loopback, CPU from /proc/PID/stat (user + system) over the window.",
        "Viewers: aiortc peer connections in the benchmark process, offers POSTed to the centre's "
        "/api/cameras/cam-000/whep, receiving SRTP from the node, not decoding (their CPU is not counted).",
        f"Each trial: viewers connect, all receive video, {SETTLE_S:.0f} s settle, then a {window_s:.0f} s "
        f"window; {passes} pass(es) with the order of counts alternating; medians. Per extra viewer = "
        f"least-squares slope of the node's CPU over {', '.join(map(str, viewers))} viewers.",
    ]
    if 0 in counts:
        notes.append(
            "0 viewers: the node analysing the camera, nobody watching (the analysis is its baseline)."
        )
    return Section(
        key="webrtc_relay",
        title="Video wall across the link (the node serves a township camera to the centre's wall)",
        columns=["viewers", "node % of a core", "centre % of a core", "packets/s per viewer", "node passes"],
        rows=rows,
        headline=f"node: {per_viewer:.2f} % of a core per extra viewer ({viewers[0]}→{viewers[-1]})",
        target=f"≤ {TARGET_PERCENT:g} % of a core per viewer",
        met=per_viewer <= TARGET_PERCENT,
        notes=notes,
        figures={
            "per_viewer_percent": max(per_viewer, 0.0),
            "node_one_viewer_percent": node_cpu[viewers[0]],
            "centre_one_viewer_percent": centre_cpu[viewers[0]],
            "packets_per_s": packets[viewers[0]],
        },
    )


def run(quick: bool) -> Section:
    return asyncio.run(_run(quick))


async def _centre(url: str, nats_url: str, port: int) -> None:
    from api.auth import AuthConfig
    from api.cli.county import running_centre, serving
    from api.nats.link import Township
    from models.clock import SystemClock
    from models.store import Store

    store = await Store.connect(url)
    try:
        townships = [Township(TOWNSHIP)]
        options = {"video_secret": SECRET, "cameras": {"cam-000": TOWNSHIP}}
        async with (
            running_centre(nats_url, store, SystemClock(), AuthConfig.for_demo(), townships, **options) as c,
            serving(c.app, "127.0.0.1", port),
        ):
            print("READY", flush=True)
            await asyncio.Event().wait()
    finally:
        await store.close()


async def _node(nats_url: str, port: int) -> None:
    from api.cli.county import NodeVideo, running_node
    from detect.backends.scripted import ScriptedDetector
    from models.clock import SystemClock

    video = NodeVideo("127.0.0.1", port, SECRET)
    options = {"hub_domain": None, "clip_seconds": None, "video": video, "node_id": "bench-node"}
    async with running_node(nats_url, TOWNSHIP, ScriptedDetector([]), SystemClock(), **options) as node:
        while node.video is None or "cam-000" not in node.video._published:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        print("READY", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    if sys.argv[1] == "centre":
        asyncio.run(_centre(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    else:
        asyncio.run(_node(sys.argv[2], int(sys.argv[3])))
