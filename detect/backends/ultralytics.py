"""Ultralytics YOLO behind the Detector port: .pt files and OpenVINO export folders alike.

Not thread-safe: one instance holds one compiled model and the service calls it from a single worker thread
(a batch across cameras per call). Use one instance per thread if that ever changes.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detect._ultralytics_env import offline
from detect.errors import ModelNotFound, ModelUnreadable, UnexpectedClasses, backend_gist
from detect.geometry import iou
from detect.labels import ALL_MEANINGS, DEFAULT_MEANINGS, class_meanings
from detect.registry import ResolvedModel, SourceKind
from models.records import Detection

logger = logging.getLogger(__name__)


class UltralyticsDetector:
    def __init__(
        self,
        weights: Path,
        *,
        imgsz: int = 640,
        extra_imgsz: Sequence[int] = (),
        # 0.35 drops the fourth person of bus.jpg (0.34 with the yolov8n INT8 export); 0.30 keeps it
        # without adding false positives on the demo video.
        confidence: float = 0.30,
        classes_of_interest: Collection[str] = ALL_MEANINGS,
        meanings: Mapping[str, str] = DEFAULT_MEANINGS,
        name: str | None = None,
        allow_download: bool = False,
        device: str = "cpu",
    ) -> None:
        if not 0.0 < confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {confidence}")
        for size in (imgsz, *extra_imgsz):
            if size <= 0 or size % 32:
                raise ValueError(f"imgsz must be a positive multiple of 32, got {size}")
        weights = Path(weights)
        if not weights.exists() and not (allow_download and not offline()):
            # Handing a missing name to YOLO() would make Ultralytics try to download it.
            raise ModelNotFound(
                f"detector weights {weights} do not exist",
                (str(weights),),
                "use detect.registry.resolve_person_model() to find offline weights",
            )
        from ultralytics.models import YOLO  # heavy (torch); only when a detector is really built

        try:
            self._model: Any = YOLO(str(weights), task="detect")
            # Export folders compile lazily; reading the names compiles now, so a truncated .bin fails here
            # with the file's name rather than on a camera's first frame.
            names = self._model.names
        except Exception as exc:  # torch, pickle, zip and OpenVINO each raise their own types for a bad file
            raise ModelUnreadable(weights, backend_gist(exc)) from exc
        self.name: str = name or weights.name
        self.labels: Mapping[int, str] = {int(k): str(v) for k, v in names.items()}
        self._meanings = class_meanings(self.labels, meanings, classes_of_interest)
        if not self._meanings:
            raise UnexpectedClasses(weights, sorted(classes_of_interest), dict(self.labels))
        self._imgsz = imgsz
        self._sizes = (imgsz, *(size for size in extra_imgsz if size != imgsz))
        self._confidence = confidence
        self._device = device
        logger.info(
            "loaded detector %s: %s",
            self.name,
            ", ".join(f"{self.labels[i]}→{m}" for i, m in sorted(self._meanings.items())),
        )

    @classmethod
    def from_resolved(
        cls,
        resolved: ResolvedModel,
        *,
        confidence: float = 0.30,
        classes_of_interest: Collection[str] = ALL_MEANINGS,
        device: str = "cpu",
    ) -> UltralyticsDetector:
        if resolved.requires_import:
            # The pickle names classes that only exist once this module has registered them.
            try:
                importlib.import_module(resolved.requires_import)
            except ImportError as exc:
                raise ModelUnreadable(
                    resolved.weights, f"needs the {resolved.requires_import} module: {exc}"
                ) from exc
        return cls(
            resolved.weights,
            imgsz=resolved.imgsz,
            extra_imgsz=resolved.extra_imgsz,
            confidence=confidence,
            classes_of_interest=classes_of_interest,
            meanings=resolved.meanings,
            name=resolved.name,
            allow_download=resolved.source is SourceKind.ULTRALYTICS_HUB,
            device=device,
        )

    @property
    def meanings(self) -> Mapping[int, str]:
        """class_id → our meaning, for the classes this detector reports."""
        return dict(self._meanings)

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        if not images:
            return []
        for image in images:
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(f"expected HxWx3 uint8 BGR images, got {image.shape} {image.dtype}")
        per_size = [
            [
                self._to_detections(result)
                for result in self._model.predict(
                    list(images),
                    imgsz=size,
                    conf=self._confidence,
                    classes=sorted(self._meanings),
                    device=self._device,
                    verbose=False,
                )
            ]
            for size in self._sizes
        ]
        if len(per_size) == 1:
            return per_size[0]
        return [merge_scales([found[i] for found in per_size]) for i in range(len(images))]

    def _to_detections(self, result: Any) -> list[Detection]:
        boxes = result.boxes
        xyxy = boxes.xyxy.cpu().numpy().astype(float)
        confidences = boxes.conf.cpu().numpy().astype(float)
        class_ids = boxes.cls.cpu().numpy().astype(int)
        detections: list[Detection] = []
        for (x1, y1, x2, y2), confidence, class_id in zip(xyxy, confidences, class_ids, strict=True):
            meaning = self._meanings.get(int(class_id))
            if meaning is None:
                continue
            detections.append(
                Detection(
                    xyxy=(float(x1), float(y1), float(x2), float(y2)),
                    confidence=float(confidence),
                    label=meaning,
                    class_id=int(class_id),
                )
            )
        return detections


def merge_scales(found: Sequence[Sequence[Detection]], iou_threshold: float = 0.5) -> list[Detection]:
    """One image's boxes from several input sizes: per label, the most confident of overlapping boxes."""
    kept: list[Detection] = []
    for detection in sorted((d for boxes in found for d in boxes), key=lambda d: -d.confidence):
        if all(k.label != detection.label or iou(k.xyxy, detection.xyxy) < iou_threshold for k in kept):
            kept.append(detection)
    return kept
