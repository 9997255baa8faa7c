"""Detector throughput: gridwatch's detection path against Ultralytics' own ``model.predict`` loop.

Same weights (the yolov8n INT8 OpenVINO export), same vtest frames, same process, interleaved repeats so
that a noisy neighbour slows every contender alike; the ratio is taken inside each repeat.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench.common import VTEST, YOLOV8N, Section, median, timed
from models.records import Detection

#: Frames per batch handed to gridwatch's detector: the DetectionBatcher's default ``max_batch``.
BATCH = 8
NATIVE_SIZES = (640, 480, 416)


def vtest_frames(count: int) -> list[np.ndarray]:
    """``count`` frames spread over the whole clip (crowded and sparse moments alike)."""
    capture = cv2.VideoCapture(str(VTEST))
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or 795
    wanted = {round(i * (total - 1) / max(1, count - 1)) for i in range(count)}
    frames: list[np.ndarray] = []
    index = 0
    while len(frames) < len(wanted):
        ok, image = capture.read()
        if not ok:
            break
        if index in wanted:
            frames.append(image)
        index += 1
    capture.release()
    return frames


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def person_recall(reference: list[list[Detection]], candidate: list[list[Detection]]) -> tuple[float, float]:
    """(share of reference persons matched at IoU ≥ 0.5, candidate persons / reference persons)."""
    matched = total = found = 0
    for ref, cand in zip(reference, candidate, strict=True):
        ref_p = [d.xyxy for d in ref if d.label == "person"]
        cand_p = [d.xyxy for d in cand if d.label == "person"]
        total += len(ref_p)
        found += len(cand_p)
        free = list(cand_p)
        for box in ref_p:
            best = max(free, key=lambda c: _iou(box, c), default=None)
            if best is not None and _iou(box, best) >= 0.5:
                matched += 1
                free.remove(best)
    return (matched / total if total else float("nan"), found / total if total else float("nan"))


def _batched(detector: Any, frames: list[np.ndarray]) -> list[list[Detection]]:
    out: list[list[Detection]] = []
    for start in range(0, len(frames), BATCH):
        out.extend(detector.detect(frames[start : start + BATCH]))
    return out


def run(quick: bool) -> Section:
    from ultralytics import YOLO

    from detect.backends.openvino_native import OpenVinoDetector
    from detect.backends.ultralytics import UltralyticsDetector

    logging.getLogger("ultralytics").setLevel(logging.WARNING)
    frames = vtest_frames(8 if quick else 48)
    repeats = 1 if quick else 5
    baseline = YOLO(str(YOLOV8N), task="detect")
    current = UltralyticsDetector(Path(YOLOV8N))
    natives = {size: OpenVinoDetector(Path(YOLOV8N), imgsz=size) for size in NATIVE_SIZES}

    def ultralytics_loop() -> None:
        # Ultralytics' documented default: one predict call per frame, default arguments.
        for frame in frames:
            baseline.predict(frame, verbose=False)

    contenders: dict[str, Any] = {
        "Ultralytics model.predict loop (640², default args)": ultralytics_loop,
        "gridwatch UltralyticsDetector (640², batch 8)": lambda: _batched(current, frames),
    }
    for size, detector in natives.items():
        contenders[f"gridwatch OpenVinoDetector (long side {size}, batch {BATCH})"] = lambda d=detector: (
            _batched(d, frames)
        )
    # Warm-up: first calls compile models and allocate; not what a running service pays.
    for contender in contenders.values():
        contender()
    fps: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    ratios: dict[str, list[float]] = {name: [] for name in contenders}
    base_name = next(iter(contenders))
    for _ in range(repeats):
        for name, contender in contenders.items():
            with timed() as t:
                contender()
            fps[name].append(len(frames) / t.wall_s)
            cpu[name].append(t.cpu_s / len(frames))
        for name in contenders:
            ratios[name].append(fps[name][-1] / fps[base_name][-1])

    reference = _batched(current, frames)
    recall = {size: person_recall(reference, _batched(d, frames)) for size, d in natives.items()}
    rows: list[list[object]] = []
    for index, name in enumerate(contenders):
        size = NATIVE_SIZES[index - 2] if index >= 2 else None
        r, count = recall[size] if size else ((1.0, 1.0) if index == 1 else (None, None))
        rows.append([name, median(fps[name]), median(cpu[name]), median(ratios[name]), r, count])
    best = max(NATIVE_SIZES, key=lambda s: median(ratios[list(contenders)[2 + NATIVE_SIZES.index(s)]]))
    chosen = f"gridwatch OpenVinoDetector (long side 416, batch {BATCH})"
    speedup = median(ratios[chosen])
    streams = natives[416].streams
    notes = [
        f"{len(frames)} vtest.avi frames (768×576) per pass, {repeats} interleaved passes after a warm-up "
        "pass; figures are medians, the ratio is taken within each pass.",
        "CPU-s/frame is process CPU time (all threads) divided by frames: the cost per analysed frame.",
        "Recall: share of the persons found by gridwatch's Ultralytics back-end (640², conf 0.30) that the "
        "native back-end finds at IoU ≥ 0.5, and its person count relative to it.",
        f"OpenVINO THROUGHPUT hint → {streams} streams; a batch's frames run concurrently on them.",
        f"Fastest native size this run: long side {best}.",
    ]
    return Section(
        key="detector",
        title="Detector throughput",
        columns=["path", "frames/s", "CPU-s/frame", "× Ultralytics loop", "person recall", "count ratio"],
        rows=rows,
        headline=f"{speedup:.2f}× Ultralytics' predict loop (native OpenVINO, long side 416, batch {BATCH})",
        target="≥ 3×",
        met=speedup >= 3.0,
        notes=notes,
        figures={
            "speedup_416": speedup,
            "speedup_640": median(ratios[list(contenders)[2]]),
            "baseline_fps": median(fps[base_name]),
            "native416_fps": median(fps[chosen]),
            "recall_416": recall[416][0],
            "recall_480": recall[480][0],
        },
    )
