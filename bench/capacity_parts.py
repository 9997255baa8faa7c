"""Where an analysed frame's CPU goes on a node: each stage timed alone, in the capacity benchmark's run.

The capacity trials say how many cameras a node keeps up with; this says why it stops there. Each stage
runs on its own on the same sub-stream keyframes, process CPU time (all threads) per frame:

- decode: demux every packet of a second of 25 fps video, decode its one keyframe, convert it to BGR;
- detect: the native OpenVINO detector (long side 416) on batches of 8;
- analyse: tracker, zone rules, snapshots on STARTs, and the clip pre-roll's resize + pixelate + JPEG;
- clip: encoding one event clip (analysed frames 5 s before to 5 s after), per clip.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import numpy as np

from bench.postgres import demo_cameras


def keyframes(path: Path) -> tuple[list[np.ndarray], float]:
    """The file's keyframes as BGR, and the CPU seconds per keyframe it took (demux of every packet)."""
    images: list[np.ndarray] = []
    began = time.process_time()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = "NONKEY"
        for packet in container.demux(stream):
            images.extend(frame.to_ndarray(format="bgr24") for frame in packet.decode())
    return images, (time.process_time() - began) / max(1, len(images))


def breakdown(
    path: Path, detector: Any, zones: tuple[Any, ...], scripted: tuple[Any, ...]
) -> dict[str, float]:
    """Milliseconds of CPU per analysed frame for decode, detect and analyse, and per encoded clip."""
    from detect.analysis.analyzer import CameraAnalyzer
    from detect.analysis.clips import ClipRecorder

    keyframes(path)  # warm the file cache and the decoder's libraries
    images, decode_s = keyframes(path)
    detector.detect(images[:8])  # compiled for this size before timing
    began = time.process_time()
    found: list[list[Any]] = []
    for i in range(0, len(images) - len(images) % 8, 8):
        found += detector.detect(images[i : i + 8])
    detect_s = (time.process_time() - began) / max(1, len(found))
    camera = demo_cameras(1, "bench", zones=zones, analysis_fps=1.0)[0]
    analyzer = CameraAnalyzer(camera, clips=ClipRecorder.for_camera(camera))
    start = datetime.now(UTC)
    jobs = []
    frames = 4 * len(found)
    began = time.process_time()
    for k in range(frames):
        # The capacity trials' script: a crowd for the first 3 of every 8 frames (seconds).
        detections = [*found[k % len(found)], *(scripted if k % 8 < 3 else ())]
        analyzer.analyze(detections, images[k % len(found)], start + timedelta(seconds=k))
        jobs += analyzer.take_clip_jobs()
    analyse_s = (time.process_time() - began) / frames
    began = time.process_time()
    for job in jobs[:6]:
        job.encode()
    clip_s = (time.process_time() - began) / max(1, min(6, len(jobs)))
    return {
        "decode_ms": decode_s * 1000,
        "detect_ms": detect_s * 1000,
        "analyse_ms": analyse_s * 1000,
        "clip_ms": clip_s * 1000,
        "clips_per_frame": len(jobs) / frames,
    }


def describe(parts: dict[str, float]) -> str:
    per_frame = parts["decode_ms"] + parts["detect_ms"] + parts["analyse_ms"]
    clips = parts["clip_ms"] * parts["clips_per_frame"]
    cameras = 2000.0 / (per_frame + clips)
    return (
        f"CPU per analysed frame, each stage alone: decode {parts['decode_ms']:.1f} ms, detect "
        f"{parts['detect_ms']:.1f} ms, analyse {parts['analyse_ms']:.1f} ms (total {per_frame:.1f} ms); an "
        f"event clip costs {parts['clip_ms']:.0f} ms to encode, and the script's START every 8 s per camera "
        f"adds {clips:.1f} ms per frame. Two idle cores at that cost: ~{cameras:.0f} cameras at 1 frame/s "
        f"({2000.0 / per_frame:.0f} without the scripted clips), before asyncio, threads and the bus."
    )
