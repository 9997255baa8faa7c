"""Export PyTorch YOLO weights to a faster format once, and keep the result in a cache keyed by content.

The export runs offline (Ultralytics' exporter with ``YOLO_AUTOINSTALL=False``: it converts, it does not
download) and takes seconds; afterwards every start finds the cached file. The key is the weights'
sha256, so replacing the ``.pt`` file exports again and a stale export is never used.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Literal

from detect.errors import ModelUnreadable, backend_gist
from detect.registry import sha256_of

logger = logging.getLogger(__name__)

Format = Literal["openvino", "onnx"]


def default_cache_dir() -> Path:
    """``GRIDWATCH_EXPORT_CACHE``, else ``$XDG_CACHE_HOME/gridwatch/exports`` (``~/.cache`` by default)."""
    configured = os.environ.get("GRIDWATCH_EXPORT_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gridwatch" / "exports"


def exported(weights: Path, fmt: Format, *, cache_dir: Path | None = None) -> Path:
    """The ``fmt`` export of ``weights`` (a ``.onnx`` file or an OpenVINO folder), made on first use.

    Exports are square 640 with a dynamic batch for ONNX; both back-ends letterbox each camera to its
    own size, the OpenVINO runner by reshaping the graph.
    """
    weights = Path(weights)
    if weights.suffix != ".pt":
        raise ModelUnreadable(weights, f"only PyTorch .pt weights can be exported to {fmt}")
    cache = cache_dir or default_cache_dir()
    key = f"{weights.stem}-{sha256_of(weights)[:16]}"
    target = cache / (f"{key}.onnx" if fmt == "onnx" else f"{key}_openvino_model")
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    logger.info("exporting %s to %s once (cached in %s)", weights.name, fmt, cache)
    # Ultralytics writes beside the weights; a private copy keeps package folders clean and lets two
    # processes export at once without reading each other's half-written files.
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        copy = Path(scratch) / f"{key}.pt"
        shutil.copyfile(weights, copy)
        try:
            from ultralytics.models import YOLO

            # onnxslim is not a dependency: ask for no simplification rather than a warning per export.
            extra = {"dynamic": True, "simplify": False} if fmt == "onnx" else {}
            with warnings.catch_warnings():  # torch's tracer deprecation notices are not the user's business
                warnings.simplefilter("ignore")
                written = Path(
                    YOLO(str(copy), task="detect").export(format=fmt, imgsz=640, verbose=False, **extra)
                )
        except Exception as exc:  # torch, onnx and OpenVINO converters each raise their own types
            raise ModelUnreadable(weights, f"export to {fmt} failed: {backend_gist(exc)}") from exc
        try:
            written.rename(target)
        except OSError:
            if not target.exists():  # another process won the race: its export is as good as ours
                raise
    return target
