"""The detectors a site asks for, built once at start-up: which weights, which back-end, or none at all.

Every problem is a ModelError naming the file at fault, so start-up fails with one clear line.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from detect.backends.ultralytics import UltralyticsDetector
from detect.errors import ModelError, ModelUnreadable
from detect.export import exported
from detect.labels import blind_spots
from detect.port import Detector
from detect.registry import (
    FIRE_MODELS,
    PERSON_MODELS,
    ModelEntry,
    ResolvedModel,
    SourceKind,
    package_file,
    resolve_fire_model,
    resolve_person_model,
)
from detect.rules.fire import DETECTOR_CONFIDENCE_FLOOR
from models.config import FireDetectorConfig, PersonDetectorConfig

logger = logging.getLogger(__name__)


def model_dirs() -> list[Path]:
    """Directories named by GRIDWATCH_MODEL_DIRS (``os.pathsep``-separated) that exist."""
    raw = os.environ.get("GRIDWATCH_MODEL_DIRS", "")
    return [Path(p) for p in raw.split(os.pathsep) if p and Path(p).is_dir()]


def build_detector(person: PersonDetectorConfig | None = None) -> Detector:
    """The person detector a site asks for; start-up logs which kinds of thing it cannot see."""
    detector = _build_detector(person)
    say_blind_spots(detector)
    return detector


def _build_detector(person: PersonDetectorConfig | None = None) -> Detector:
    """The person detector a site asks for; an OpenVINO export runs on gridwatch's own OpenVINO runner.

    That runner is what docs/benchmarks.md measures at 3.8× Ultralytics' predict loop: letterboxed to each
    camera's aspect ratio, no torch pre/post-processing, a batch spread over OpenVINO's streams.
    """
    person = person or PersonDetectorConfig()
    configured = Path(person.weights) if person.weights else None
    candidates = PERSON_MODELS
    if person.backend not in ("auto", "openvino"):
        # CenterNet (the npm model) runs on OpenVINO alone: another back-end takes the next model it can run.
        candidates = tuple(entry for entry in PERSON_MODELS if entry.runner != "centernet")
    resolved = resolve_person_model(configured, model_dirs(), candidates=candidates)
    logger.info(
        "person detector: %s (%s, sha256 verified: %s)",
        resolved.name,
        resolved.source,
        resolved.sha256_verified,
    )
    backend = person.backend
    weights = resolved.weights
    if resolved.runner == "centernet":
        if backend not in ("auto", "openvino"):
            raise ModelError(
                f"{resolved.name} runs only on OpenVINO; detectors.person.backend is {backend}", weights
            )
        from detect.backends.centernet import CenterNetDetector

        return CenterNetDetector(weights / "centernet.json", confidence=person.confidence, name=resolved.name)
    if backend == "auto":
        if weights.suffix == ".pt":
            # The faster format, made once on first use: OpenVINO runs these weights ~3× Ultralytics' loop.
            try:
                weights = exported(weights, "openvino")
            except ModelUnreadable as exc:
                logger.warning("%s: %s; the person model runs on Ultralytics instead", weights, exc.reason)
        backend = "openvino" if _is_openvino_export(weights) else "ultralytics"
    if backend == "openvino":
        from detect.backends.openvino_native import OpenVinoDetector

        weights = _runnable(weights, "openvino", _is_openvino_export(weights), "an OpenVINO export folder")
        logger.info("person detector back-end: OpenVINO, long side %d", person.imgsz)
        return OpenVinoDetector(
            weights,
            imgsz=person.imgsz,
            confidence=person.confidence,
            meanings=resolved.meanings,
            name=resolved.name,
        )
    if backend == "onnxruntime":
        from detect.backends.onnx_runtime import OnnxRuntimeDetector

        weights = _runnable(weights, "onnxruntime", weights.suffix == ".onnx", ".onnx")
        logger.info("person detector back-end: ONNX Runtime, long side %d", person.imgsz)
        return OnnxRuntimeDetector(
            weights,
            imgsz=person.imgsz,
            confidence=person.confidence,
            meanings=resolved.meanings,
            name=resolved.name,
        )
    logger.info("person detector back-end: Ultralytics, %d×%d", person.imgsz, person.imgsz)
    return UltralyticsDetector.from_resolved(
        replace(resolved, imgsz=person.imgsz), confidence=person.confidence
    )


def say_blind_spots(detector: Detector) -> dict[str, str]:
    """Logs once at start-up which kinds the detector cannot see and why, instead of silently not seeing."""
    missing = blind_spots(detector)
    for kind, why in missing.items():
        logger.warning(
            "person detector %s cannot see %s (its classes: %s): %s",
            detector.name,
            kind,
            ", ".join(sorted(set(detector.labels.values()))[:12]),
            why,
        )
    if missing:
        logger.warning(
            "for vehicles and stalls: run npm ci in the checkout (@vladmandic/human's COCO model) or put "
            "a COCO export in GRIDWATCH_MODEL_DIRS; class-agnostic occupation still sees new objects"
        )
    return missing


def _is_openvino_export(weights: Path) -> bool:
    return weights.is_dir() and any(weights.glob("*.xml"))


def _runnable(weights: Path, backend: str, ready: bool, wanted: str) -> Path:
    """Weights the runtime can load as they are, else .pt weights exported for it (cached by content)."""
    if ready:
        return weights
    if weights.suffix != ".pt":
        raise ModelError(
            f"detectors.person.backend is {backend} but {weights} is neither {wanted} nor .pt weights"
            + (" to export" if backend == "openvino" else ""),
            weights,
        )
    return exported(weights, "onnx" if backend == "onnxruntime" else "openvino")


def build_fire_detector(
    fire: FireDetectorConfig | None = None,
    *,
    candidates: Sequence[ModelEntry] = FIRE_MODELS,
    person: Detector | None = None,
) -> Detector | None:
    """The fire/smoke detector when the optional ``fire-detector`` package is installed, else None.

    Says in one log line whether fire/smoke detection is on. Weights that are there but refused or
    unreadable stop start-up naming the file: a site that installed the model expects fire zones to work.
    ``person``: the built person detector; when it runs on OpenVINO or ONNX Runtime the fire model runs
    there too, exported once (detect/backends/fire_native.py), so the process never imports torch.
    """
    fire = fire or FireDetectorConfig()
    if not fire.enabled:
        logger.info("fire/smoke detection: off (detectors.fire.enabled is false); fire zones stay idle")
        return None
    if not any(_present(entry) for entry in candidates):
        logger.info(
            "fire/smoke detection: off (the fire-detector package is not installed: "
            "pip install 'gridwatch[fire]'); fire zones stay idle"
        )
        return None
    try:
        resolved = resolve_fire_model(None, model_dirs(), candidates=candidates)
        if resolved is None:  # present but refused, e.g. a digest mismatch (logged by the registry)
            raise ModelError(f"fire/smoke model refused: {', '.join(c.name for c in candidates)}")
        detector = _native_fire(resolved, person) or UltralyticsDetector.from_resolved(
            resolved, confidence=DETECTOR_CONFIDENCE_FLOOR
        )
    except ModelError as exc:
        # One line: what to fix is the file it names.
        raise ModelError(str(exc).splitlines()[0], exc.path) from None
    logger.info(
        "fire/smoke detection: on (%s, sha256 verified: %s, %s), every %g s on cameras with a fire zone",
        resolved.name,
        resolved.sha256_verified,
        getattr(detector, "backend", "Ultralytics/torch"),
        fire.every_seconds,
    )
    return detector


def _native_fire(resolved: ResolvedModel, person: Detector | None) -> Detector | None:
    """The fire model on the person detector's torch-free runtime, or None (logged why) for torch."""
    from detect.backends.fire_native import native_fire_detector, runtime_of

    runtime = runtime_of(person)
    if runtime is None:
        why = "no person detector given" if person is None else f"the person detector {person.name} loads it"
        logger.info("fire/smoke model runs on Ultralytics (torch): %s", why)
        return None
    try:
        return native_fire_detector(
            resolved,
            "onnxruntime" if runtime == "onnxruntime" else "openvino",
            confidence=DETECTOR_CONFIDENCE_FLOOR,
        )
    except ModelError as exc:
        logger.warning(
            "fire/smoke model runs on Ultralytics (torch, ~650 MiB more): its %s export failed: %s",
            runtime,
            str(exc).splitlines()[0],
        )
        return None


def _present(entry: ModelEntry) -> bool:
    """Whether a fire model's weights are on this machine at all (not whether they load)."""
    if entry.source is SourceKind.PACKAGE:
        return package_file(entry.locator) is not None
    return entry.source is SourceKind.PATH and any((d / entry.locator).exists() for d in model_dirs())
