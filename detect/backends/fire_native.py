"""The fire/smoke model on OpenVINO or ONNX Runtime: a node whose person model needs no torch never loads it.

The ``fire-detector`` package ships a PyTorch pickle with custom layers: loading it imports torch
(~650 MiB resident, docs/benchmarks.md "Node memory"). Exported once (``detect.export`` in a child
process, which imports ``fire_detector`` for the layers), it is a plain YOLOv8 graph with the standard
Detect head: the native back-ends run it at both of the registry's input sizes and the boxes are merged
per label as ``UltralyticsDetector`` merges them, with the same class names (``{0: smoke, 1: fire}``) and
the same meanings (``FIRE_DETECTOR.meanings``).

Provenance: beside each export, ``<export>.provenance.json`` names the source package and version, the
source's sha256 (which the registry verified before the export) and the export's own sha256; a load
checks both, and an export whose record is missing or does not match is made again.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np

from detect.backends.ultralytics import merge_scales
from detect.errors import ModelUnreadable
from detect.export import default_cache_dir, exported
from detect.port import Detector
from detect.registry import ResolvedModel, sha256_of
from models.records import Detection

logger = logging.getLogger(__name__)

NativeBackend = Literal["openvino", "onnxruntime"]
PROVENANCE_SUFFIX = ".provenance.json"


class MultiScale:
    """Several detectors of one model at different input sizes, boxes merged per label (``merge_scales``)."""

    def __init__(self, detectors: Sequence[Detector], name: str) -> None:
        self._detectors = list(detectors)
        self.name = name
        self.labels: Mapping[int, str] = self._detectors[0].labels
        self.backend = type(self._detectors[0]).__name__

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        if not images:
            return []
        per_size = [detector.detect(images) for detector in self._detectors]
        if len(per_size) == 1:
            return per_size[0]
        return [merge_scales([found[i] for found in per_size]) for i in range(len(images))]


def runtime_of(detector: Detector | None) -> str | None:
    """The torch-free runtime a built person detector uses ("openvino", "onnxruntime"), else None.

    By class name, so that asking imports no runtime (CenterNet's module imports OpenVINO, which an
    ONNX Runtime node never loads)."""
    kinds = {cls.__name__ for cls in type(detector).__mro__}
    if kinds & {"OpenVinoDetector", "CenterNetDetector"}:
        return "openvino"
    if "OnnxRuntimeDetector" in kinds:
        return "onnxruntime"
    return None


def _source_package(resolved: ResolvedModel) -> tuple[str, str]:
    """(distribution, version) of the package the weights came from; ("", "") for a loose file."""
    module = (resolved.requires_import or "").split(".")[0]
    for dist in importlib.metadata.packages_distributions().get(module, []):
        try:
            return dist, importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "", ""


def _checked_file(export: Path) -> Path:
    """The file whose sha256 the provenance records: the .onnx, or the .bin of an OpenVINO folder."""
    if export.is_dir():
        bins = sorted(export.glob("*.bin"))
        if len(bins) != 1:
            raise ModelUnreadable(export, "an OpenVINO export folder needs exactly one .bin")
        return bins[0]
    return export


def provenance_path(export: Path) -> Path:
    return export.with_name(export.name + PROVENANCE_SUFFIX)


def _trusted(export: Path, source_sha256: str) -> bool:
    """Whether the export's record names this source and the export is still the file it recorded."""
    record = provenance_path(export)
    try:
        found = json.loads(record.read_text(encoding="utf-8"))
        return bool(
            found["source_sha256"] == source_sha256
            and found["export_sha256"] == sha256_of(_checked_file(export))
        )
    except (OSError, ValueError, KeyError, ModelUnreadable):
        return False


def export_fire(resolved: ResolvedModel, backend: NativeBackend, *, cache_dir: Path | None = None) -> Path:
    """The fire model exported for ``backend``, made once in a child process and recorded; the cached one
    when its record matches. Raises ``ModelUnreadable`` when the export fails."""
    if not resolved.sha256_verified:
        # The record vouches for a source the registry checked; an unknown .pt would make it a guess.
        raise ModelUnreadable(resolved.weights, "only sha256-verified weights are exported")
    cache = cache_dir or default_cache_dir()
    fmt: Literal["openvino", "onnx"] = "onnx" if backend == "onnxruntime" else "openvino"
    source_sha256 = sha256_of(resolved.weights)
    export = exported(resolved.weights, fmt, cache_dir=cache, requires_import=resolved.requires_import)
    if _trusted(export, source_sha256):
        return export
    if provenance_path(export).exists():
        # Changed since it was recorded (a truncated copy, another source): make it again, never trust it.
        logger.warning("fire model export %s does not match its provenance record; exporting again", export)
        shutil.rmtree(export) if export.is_dir() else export.unlink()
        provenance_path(export).unlink(missing_ok=True)
        export = exported(resolved.weights, fmt, cache_dir=cache, requires_import=resolved.requires_import)
    package, version = _source_package(resolved)
    record = {
        "model": resolved.name,
        "source_package": package,
        "source_version": version,
        "source_file": resolved.weights.name,
        "source_sha256": source_sha256,
        "format": fmt,
        "export_file": _checked_file(export).name,
        "export_sha256": sha256_of(_checked_file(export)),
        "exporter": f"ultralytics {_version('ultralytics')}, torch {_version('torch')}",
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    # Written whole then renamed: a process starting beside this one never reads half a record.
    partial = provenance_path(export).with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    partial.replace(provenance_path(export))
    logger.info("fire model exported for %s: %s (provenance in %s)", backend, export, provenance_path(export))
    return export


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def native_fire_detector(
    resolved: ResolvedModel,
    backend: NativeBackend,
    *,
    confidence: float,
    cache_dir: Path | None = None,
) -> MultiScale:
    """The fire model on ``backend`` at every input size the registry names, without importing torch."""
    export = export_fire(resolved, backend, cache_dir=cache_dir)
    sizes = (resolved.imgsz, *(s for s in resolved.extra_imgsz if s != resolved.imgsz))
    detectors: list[Detector] = []
    for size in sizes:
        if backend == "openvino":
            from detect.backends.openvino_native import OpenVinoDetector

            # LATENCY: fire checks are a few frames every 2 s; THROUGHPUT's extra streams only cost memory.
            detectors.append(
                OpenVinoDetector(
                    export,
                    imgsz=size,
                    confidence=confidence,
                    meanings=resolved.meanings,
                    name=resolved.name,
                    performance_hint="LATENCY",
                    # The thresholds (detect/rules/fire.py) were tuned on the .pt's float32 confidences.
                    precision="f32",
                )
            )
        else:
            from detect.backends.onnx_runtime import OnnxRuntimeDetector

            detectors.append(
                OnnxRuntimeDetector(
                    export, imgsz=size, confidence=confidence, meanings=resolved.meanings, name=resolved.name
                )
            )
    return MultiScale(detectors, resolved.name)


def main(argv: Sequence[str]) -> int:
    """``python -m detect.backends.fire_native [openvino|onnxruntime ...]``: export the installed fire model
    now (``./run setup`` does), so no node's first start waits for it; prints each export's path."""
    from detect.registry import resolve_fire_model

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    resolved = resolve_fire_model()
    if resolved is None:
        print("fire model not installed (pip install 'gridwatch[fire]'): nothing to export", file=sys.stderr)
        return 2
    for backend in argv or ("openvino",):
        if backend not in ("openvino", "onnxruntime"):
            print(f"unknown back-end {backend!r}: openvino or onnxruntime", file=sys.stderr)
            return 2
        try:
            print(export_fire(resolved, backend))  # type: ignore[arg-type]
        except ModelUnreadable as exc:
            print(str(exc).splitlines()[0], file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
