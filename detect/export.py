"""Export PyTorch YOLO weights to a faster format once, and keep the result in a cache keyed by content.

The export runs offline (Ultralytics' exporter with ``YOLO_AUTOINSTALL=False``: it converts, it does not
download) and takes seconds; afterwards every start finds the cached file. The key is the weights'
sha256, so replacing the ``.pt`` file exports again and a stale export is never used. It runs in a child
process (``python -m detect.export``): torch is loaded there only, and the service that asked never
imports it.
"""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Literal

from detect.errors import ModelUnreadable, backend_gist
from detect.registry import sha256_of

logger = logging.getLogger(__name__)

Format = Literal["openvino", "onnx"]
#: An export takes seconds to a minute on 2 cores; past this something is stuck.
EXPORT_TIMEOUT_S = 900.0


def default_cache_dir() -> Path:
    """``GRIDWATCH_EXPORT_CACHE``, else ``$XDG_CACHE_HOME/gridwatch/exports`` (``~/.cache`` by default)."""
    configured = os.environ.get("GRIDWATCH_EXPORT_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gridwatch" / "exports"


def exported(
    weights: Path, fmt: Format, *, cache_dir: Path | None = None, requires_import: str | None = None
) -> Path:
    """The ``fmt`` export of ``weights`` (a ``.onnx`` file or an OpenVINO folder), made on first use.

    Exports are square 640 with a dynamic batch for ONNX; both back-ends letterbox each camera to its
    own size, the OpenVINO runner by reshaping the graph. ``requires_import``: a module the child imports
    before unpickling (custom layers, see ``ResolvedModel.requires_import``).
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
        written = _export_in_child(weights, copy, fmt, requires_import)
        try:
            written.rename(target)
        except OSError:
            if not target.exists():  # another process won the race: its export is as good as ours
                raise
    return target


def _export_in_child(weights: Path, copy: Path, fmt: Format, requires_import: str | None = None) -> Path:
    """Ultralytics' exporter in a process of its own, so torch (~650 MiB resident) leaves with it.

    The service exporting its .pt weights on first start would otherwise carry torch for its whole life,
    while OpenVINO and ONNX Runtime, which run the export, never need it.
    """
    package_root = str(Path(__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
    }
    try:
        result = subprocess.run(
            [sys.executable, "-m", "detect.export", str(copy), fmt, *filter(None, [requires_import])],
            capture_output=True,
            text=True,
            env=env,
            timeout=EXPORT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ModelUnreadable(weights, f"export to {fmt} took over {EXPORT_TIMEOUT_S:.0f} s") from None
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0 or not lines:
        problem = [line for line in result.stderr.splitlines() if line.strip()]
        raise ModelUnreadable(weights, f"export to {fmt} failed: {problem[-1] if problem else 'no message'}")
    return Path(lines[-1])


def _export_here(copy: Path, fmt: Format, requires_import: str | None = None) -> Path:
    if requires_import:
        importlib.import_module(requires_import)  # registers the pickle's custom layers
    from ultralytics.models import YOLO

    # onnxslim is not a dependency: ask for no simplification rather than a warning per export.
    extra = {"dynamic": True, "simplify": False} if fmt == "onnx" else {}
    with warnings.catch_warnings():  # torch's tracer deprecation notices are not the user's business
        warnings.simplefilter("ignore")
        return Path(YOLO(str(copy), task="detect").export(format=fmt, imgsz=640, verbose=False, **extra))


def main(argv: list[str]) -> int:
    """``python -m detect.export WEIGHTS FORMAT [MODULE]``: export, print the path written (last line)."""
    try:
        module = argv[2] if len(argv) > 2 else None
        written = _export_here(Path(argv[0]), "onnx" if argv[1] == "onnx" else "openvino", module)
    except Exception as exc:  # torch, onnx and OpenVINO converters each raise their own types
        print(backend_gist(exc), file=sys.stderr)
        return 1
    print(written)
    return 0


if __name__ == "__main__":  # ``-m`` imported the ``detect`` package first: offline settings are in place
    raise SystemExit(main(sys.argv[1:]))
