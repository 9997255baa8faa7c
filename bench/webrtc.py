"""Video wall: the server's CPU for each extra WebRTC viewer of one camera, through the real WHEP endpoint.

One camera is an RTSP source (bench/rtsp_file.py, Debian's GStreamer) playing the benchmark's 1080p H.264
clip as encoded, so gridwatch takes the passthrough path the wall uses for real cameras: one pull (here the
hub's own, as no analysis runs), its packets fanned out to every viewer (ingest/packets.py: a bounded queue
per viewer), no decoding or encoding. The gridwatch app runs in its own
process (``python -m bench.webrtc``: FastAPI + aiortc + embedded PostgreSQL's client), whose CPU is read
from /proc/PID/stat; the viewers are aiortc peer connections in the benchmark process that sign in as the
command centre and POST their offers to ``/api/cameras/{id}/whep``, as the wall's browser does.

Glass-to-glass: a second camera is a live picture with the time burned in (bench/rtsp_file.py /clock),
shown on the real wall page in Chromium; bench/glass_to_glass.mjs reads the time back from each painted
frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import av
import httpx

from bench.clips import clip
from bench.common import Section, median, percentile
from bench.postgres import demo_cameras, embedded_postgres, fresh_database, load_demo_county

SYSTEM_PYTHON = "/usr/bin/python3"
RTSP_SERVER = Path(__file__).with_name("rtsp_file.py")
CAMERA = "cam-000"
#: The camera whose pictures carry the time they were made (bench/rtsp_file.py's /clock mount).
CLOCK_CAMERA = "cam-001"
GLASS_SCRIPT = Path(__file__).with_name("glass_to_glass.mjs")
TARGET_PERCENT = 2.0
#: After every viewer receives video: lets ICE/DTLS set-up and the first keyframe wait drop out of the window.
SETTLE_S = 2.0
_TICKS = os.sysconf("SC_CLK_TCK")


def gi_missing_reason() -> str | None:
    """Why the RTSP source cannot run here, or None when Debian's python has GStreamer's RTSP server."""
    probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    try:
        subprocess.run([SYSTEM_PYTHON, "-c", probe], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return f"{SYSTEM_PYTHON} cannot load GstRtspServer (sh /work/shared/peers/install.sh installs it)"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of another process, all its threads, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


@contextlib.contextmanager
def _process(
    argv: list[str], log: Path, ready: str, timeout_s: float = 60
) -> Iterator[subprocess.Popen[bytes]]:
    """A child that prints ``ready`` on a line once it serves; terminated afterwards."""
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout_s
        while ready.encode() not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{argv[1]} did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class _NoDecoder:
    """Stands in for the viewers' H.264 decoder: the viewers' CPU is not what is measured, and eight 1080p
    decoders in the benchmark process would take CPU from the server being measured."""

    def decode(self, encoded_frame: Any) -> list[Any]:
        return []


@contextlib.contextmanager
def _no_decoding() -> Iterator[None]:
    import aiortc.rtcrtpreceiver as receiver

    original = receiver.get_decoder
    receiver.get_decoder = lambda codec: _NoDecoder()
    try:
        yield
    finally:
        receiver.get_decoder = original


@dataclass
class Viewer:
    pc: Any
    location: str

    async def packets(self) -> int:
        report = await self.pc.getStats()
        # Counted on the transport: aiortc gives every inbound-rtp stream of a receiver the same stats id,
        # so once a retransmission (RTX) stream appears its count hides the media stream's.
        return sum(s.packetsReceived for s in report.values() if s.type == "transport")


async def _connect(client: httpx.AsyncClient) -> Viewer:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    # aiortc gathers every candidate inside setLocalDescription: the offer is complete, as WHEP wants.
    await pc.setLocalDescription(await pc.createOffer())
    response = await client.post(
        f"/api/cameras/{CAMERA}/whep",
        content=pc.localDescription.sdp,
        headers={"Content-Type": "application/sdp"},
    )
    if response.status_code != 201:
        await pc.close()
        raise RuntimeError(f"WHEP offer refused: {response.status_code} {response.text}")
    await pc.setRemoteDescription(RTCSessionDescription(response.text, "answer"))
    viewer = Viewer(pc, response.headers["Location"])
    # The viewers don't decode, so a wrong codec would still count packets: check what was negotiated.
    codec = _answered_codec(response.text)
    if codec != "H264":
        await _hang_up(client, viewer)
        raise RuntimeError(f"the server answered {codec} for a passed-through H.264 camera")
    return viewer


def _answered_codec(sdp: str) -> str:
    """The codec of the first payload type of the answer's video section."""
    lines = sdp.splitlines()
    video = next(line for line in lines if line.startswith("m=video"))
    first = video.split()[3]
    rtpmap = next(line for line in lines if line.startswith(f"a=rtpmap:{first} "))
    return rtpmap.split()[1].split("/")[0]


async def _hang_up(client: httpx.AsyncClient, viewer: Viewer) -> None:
    with contextlib.suppress(httpx.HTTPError):
        await client.delete(viewer.location)
    await viewer.pc.close()


@contextlib.asynccontextmanager
async def _viewers(client: httpx.AsyncClient, count: int) -> AsyncIterator[list[Viewer]]:
    viewers = list(await asyncio.gather(*(_connect(client) for _ in range(count))))
    try:
        deadline = time.monotonic() + 20
        # Passthrough: a viewer gets nothing until the camera's next keyframe (GOP 1 s).
        while not all([await v.packets() > 0 for v in viewers]):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{count} WHEP viewers connected, but not all receive video in 20 s")
            await asyncio.sleep(0.2)
        yield viewers
    finally:
        await asyncio.gather(*(_hang_up(client, v) for v in viewers))


async def _trial(client: httpx.AsyncClient, server_pid: int, count: int, window_s: float) -> dict[str, float]:
    if count == 0:
        cpu, began = cpu_seconds(server_pid), time.monotonic()
        await asyncio.sleep(window_s)
        return {"cpu": (cpu_seconds(server_pid) - cpu) / (time.monotonic() - began), "packets": 0.0}
    async with _viewers(client, count) as viewers:
        await asyncio.sleep(SETTLE_S)
        packets = [await v.packets() for v in viewers]
        cpu, began = cpu_seconds(server_pid), time.monotonic()
        await asyncio.sleep(window_s)
        cpu_used, elapsed = cpu_seconds(server_pid) - cpu, time.monotonic() - began
        received = [await v.packets() - p for v, p in zip(viewers, packets, strict=True)]
    # Let the server release the last viewer's pull before the next trial starts its own.
    await asyncio.sleep(1.0)
    return {"cpu": cpu_used / elapsed, "packets": min(received) / elapsed}


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else float("nan")


async def _measure(
    base: str, server_pid: int, counts: tuple[int, ...], passes: int, window_s: float
) -> dict[int, list[dict[str, float]]]:
    from api.site import DEMO_PASSWORD
    from api.webrtc import offer_loopback_only

    offer_loopback_only()  # the viewers too: no candidate on another interface, no STUN
    trials: dict[int, list[dict[str, float]]] = {n: [] for n in counts}
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        login = await client.post("/api/auth/token", json={"username": "command", "password": DEMO_PASSWORD})
        login.raise_for_status()
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        for index in range(passes):
            # Alternate the order so that drift in the machine's load does not tilt the slope.
            for count in counts if index % 2 == 0 else reversed(counts):
                trials[count].append(await _trial(client, server_pid, count, window_s))
    return trials


def _bitrate_mbit(path: Path) -> float:
    with av.open(str(path)) as container:
        seconds = float(container.duration or 0) / av.time_base
    return path.stat().st_size * 8 / seconds / 1e6 if seconds else float("nan")


async def _prepare(url: str, rtsp: str) -> None:
    from api.site import seed_demo_users
    from models.store import Store

    file_camera, clock_camera = demo_cameras(2, f"{rtsp}/cam", enabled=False)
    store = await Store.connect(url)
    try:
        await load_demo_county(store, [file_camera, replace(clock_camera, source=f"{rtsp}/clock")])
        await seed_demo_users(store)
    finally:
        await store.close()


def glass_to_glass(base: str, seconds: float) -> dict[str, Any] | str:
    """Latencies (ms) of the frames Chromium paints in the clock camera's wall tile, or why there are none."""
    from api.site import DEMO_PASSWORD

    if shutil.which("node") is None or not Path(os.environ.get("CHROMIUM", "/usr/bin/chromium")).exists():
        return "node or Chromium is not installed"
    done = subprocess.run(
        ["node", str(GLASS_SCRIPT), base + "/", DEMO_PASSWORD, CLOCK_CAMERA, str(seconds)],
        capture_output=True,
        text=True,
        timeout=seconds + 90,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if done.returncode != 0:
        return f"the browser run failed: {done.stderr.strip()[-500:]}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def _run(quick: bool) -> Section:
    reason = gi_missing_reason()
    if reason is not None:
        raise RuntimeError(reason)
    counts = (1, 2) if quick else (0, 1, 2, 4, 8)
    passes, window_s = (1, 4.0) if quick else (3, 15.0)
    glass_s = 4.0 if quick else 20.0
    # Long enough for the longest trial (connect, keyframe wait, settle, window) without looping the file.
    path = clip("h264", 12 if quick else 30)
    rtsp_port, api_port = _free_port(), _free_port()
    with tempfile.TemporaryDirectory(prefix="gridwatch-bench-webrtc-") as tmp, embedded_postgres() as admin:
        logs = Path(tmp)
        async with fresh_database(admin) as url:
            await _prepare(url, f"rtsp://127.0.0.1:{rtsp_port}")
            rtsp = [SYSTEM_PYTHON, str(RTSP_SERVER), str(rtsp_port), str(path)]
            api = [sys.executable, "-m", "bench.webrtc", url, str(api_port)]
            with (
                _process(rtsp, logs / "rtsp.log", "READY"),
                _process(api, logs / "api.log", "READY") as server,
                _no_decoding(),
            ):
                base = f"http://127.0.0.1:{api_port}"
                trials = await _measure(base, server.pid, counts, passes, window_s)
                glass = await asyncio.to_thread(glass_to_glass, base, glass_s)
    cpu = {n: median([t["cpu"] for t in trials[n]]) * 100 for n in counts}
    packets = {n: median([t["packets"] for t in trials[n]]) for n in counts}
    viewers = [n for n in counts if n > 0]
    per_viewer = slope([(n, cpu[n]) for n in viewers])
    rows = [
        [
            n,
            cpu[n],
            (cpu[n] - cpu[viewers[0]]) / (n - viewers[0]) if n > viewers[0] else None,
            packets[n] if n else None,
            " / ".join(f"{t['cpu'] * 100:.1f}" for t in trials[n]),
        ]
        for n in counts
    ]
    bitrate = _bitrate_mbit(path)
    notes = [
        f"Source: the 1080p H.264 clip (25 fps, GOP 25, {bitrate:.1f} Mbit/s) served over RTSP as encoded by "
        "bench/rtsp_file.py (GStreamer, system python), so gridwatch passes its packets through: one RTSP "
        "pull per camera (RtspSource, packets only, as no analysis runs here), its PacketFanout handing each "
        "viewer the packets through a bounded queue of its own, no decode or encode on the server.",
        "Server: the gridwatch app (FastAPI, WHEP, aiortc) alone in its own process on loopback, no camera "
        "loops or detector; CPU is that process's user + system time from /proc/PID/stat over the window.",
        "Viewers: aiortc peer connections in the benchmark process (recvonly video, offer POSTed to "
        f"/api/cameras/{CAMERA}/whep with the command centre's bearer token), each receiving SRTP, sending "
        "RTCP, but not decoding (their CPU is not counted, and decoding would take CPU from the server).",
        f"Each trial: viewers connect, all receive video, {SETTLE_S:.0f} s settle, then a {window_s:.0f} s "
        f"window; {passes} pass(es) with the order of counts alternating; figures are medians. Per extra "
        f"viewer = least-squares slope over {', '.join(map(str, viewers))} viewers.",
    ]
    if isinstance(glass, str):
        glass_p50 = glass_p95 = float("nan")
        latency = "glass-to-glass not measured"
        notes.append(f"Glass-to-glass: not measured ({glass}).")
    else:
        samples = [float(v) for v in glass["latencies_ms"]]
        glass_p50, glass_p95 = percentile(samples, 50), percentile(samples, 95)
        latency = f"glass-to-glass p50 {glass_p50:.0f} ms, p95 {glass_p95:.0f} ms"
        notes.append(
            f"Glass-to-glass: p50 {glass_p50:.0f} ms, p95 {glass_p95:.0f} ms over {len(samples)} painted "
            f"frames in {glass_s:.0f} s ({glass['unreadable']} unreadable). A second camera "
            f"({CLOCK_CAMERA}) is bench/rtsp_file.py's /clock mount: {glass['width']} px wide live "
            "pictures with the time they were made burned in as 32 black/white blocks, x264-encoded there "
            "(zerolatency, as a camera's encoder would) and passed through by gridwatch. Headless Chromium "
            "(software decode) shows the wall signed in as the command centre; for each frame painted in "
            "that tile (requestVideoFrameCallback, expectedDisplayTime) the burned-in time is read back "
            "from the pixels and subtracted (bench/glass_to_glass.mjs). One machine clock at both ends; "
            "includes the camera's encode, the RTSP hop, gridwatch, WebRTC and Chromium's jitter buffer, "
            "decode and paint."
        )
    if 0 in counts:
        notes.append("0 viewers: the server idle (no RTSP pull yet: the pull starts with the first viewer).")
    return Section(
        key="webrtc",
        title="Video wall (WebRTC passthrough, one 1080p camera)",
        columns=["viewers", "server % of a core", "% per viewer over 1", "packets/s per viewer", "passes"],
        rows=rows,
        headline=f"{per_viewer:.2f} % of a core per extra viewer ({viewers[0]}→{viewers[-1]}); {latency}",
        target=f"≤ {TARGET_PERCENT:g} % of a core per viewer",
        met=per_viewer <= TARGET_PERCENT,
        notes=notes,
        figures={
            "per_viewer_percent": max(per_viewer, 0.0),
            "one_viewer_percent": cpu[viewers[0]],
            "packets_per_s": packets[viewers[0]],
            "glass_p50_ms": glass_p50,
            "glass_p95_ms": glass_p95,
        },
    )


def run(quick: bool) -> Section:
    return asyncio.run(_run(quick))


async def _serve(url: str, port: int) -> None:
    """The server process: the gridwatch app over an already loaded database, no camera loops."""
    import uvicorn

    from api.auth import AuthConfig
    from api.site import demo_site
    from api.webrtc import offer_loopback_only
    from api.wiring import build_system
    from detect.backends.scripted import ScriptedDetector
    from models.clock import SystemClock
    from models.store import Store

    store = await Store.connect(url)
    system = build_system(
        store, ScriptedDetector([]), SystemClock(), AuthConfig.for_demo(), timezone=demo_site().timezone
    )
    # The centre's routing (which cameras exist, who may watch them) without its workers; no analysis runs.
    await system.centre.start(workers=False)
    offer_loopback_only()
    server = uvicorn.Server(
        uvicorn.Config(system.app, host="127.0.0.1", port=port, log_level="error", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn offers no "started" event to await
        if serving.done():
            await serving
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.05)
    print("READY", flush=True)
    try:
        await serving
    finally:
        await system.stop()
        await store.close()


if __name__ == "__main__":
    asyncio.run(_serve(sys.argv[1], int(sys.argv[2])))
