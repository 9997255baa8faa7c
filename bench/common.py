"""What every benchmark shares: CPU/wall timing, medians, the result shape the report is written from."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from api.site import DEFAULT_DEMO_VIDEO

VTEST = DEFAULT_DEMO_VIDEO
MODELS = Path(
    os.environ.get("GRIDWATCH_BENCH_MODELS", Path(__file__).resolve().parents[2] / "shared" / "models")
)
YOLOV8N = MODELS / "yolov8n_int8_openvino_model"


@dataclass
class Timing:
    wall_s: float = 0.0
    cpu_s: float = 0.0


@contextmanager
def timed() -> Iterator[Timing]:
    """Wall and process CPU time (all threads, so OpenVINO's and FFmpeg's workers count too)."""
    timing = Timing()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield timing
    finally:
        timing.wall_s = time.perf_counter() - wall
        timing.cpu_s = time.process_time() - cpu


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; NaN when there are no samples."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass
class Section:
    """One benchmark's findings, as the report shows them."""

    key: str
    title: str
    #: Column names, then rows of cells (numbers are formatted by the report).
    columns: list[str]
    rows: list[list[object]]
    #: The headline figure the target is about, and the target itself.
    headline: str
    target: str
    met: bool | None
    notes: list[str] = field(default_factory=list)
    #: Plain numbers for the smoke test and for machines reading the run.
    figures: dict[str, float] = field(default_factory=dict)


Benchmark = Callable[[bool], Section]
