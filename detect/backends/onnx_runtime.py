"""A YOLOv8/YOLO11 ONNX export run by ONNX Runtime: our letterbox, a NumPy decode and OpenCV's NMS.

For machines where OpenVINO is not wanted or not available (ARM boards, Windows services): ONNX Runtime
is a small wheel with no torch. The export (``detect.export``) has a dynamic batch and picture size, so
each camera is letterboxed to its own aspect ratio like the OpenVINO runner does, and a batch of frames
of one size is one session call.
"""

from __future__ import annotations

import ast
import logging
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from detect.backends.letterbox import by_letterbox, check_settings, letterbox
from detect.errors import ModelNotFound, ModelUnreadable, UnexpectedClasses, backend_gist
from detect.labels import ALL_MEANINGS, DEFAULT_MEANINGS, class_meanings
from models.records import Detection

logger = logging.getLogger(__name__)


class OnnxRuntimeDetector:
    """Not thread-safe in the sense that matters here: one instance per worker thread, like the others."""

    def __init__(
        self,
        onnx_path: Path,
        *,
        imgsz: int = 640,
        confidence: float = 0.30,
        iou: float = 0.7,
        max_detections: int = 300,
        classes_of_interest: Collection[str] = ALL_MEANINGS,
        meanings: Mapping[str, str] = DEFAULT_MEANINGS,
        name: str | None = None,
        threads: int | None = None,
    ) -> None:
        check_settings(confidence, imgsz)
        onnx_path = Path(onnx_path)
        if not onnx_path.is_file():
            raise ModelNotFound(
                f"detector weights {onnx_path} do not exist", (str(onnx_path),), path=onnx_path
            )
        import onnxruntime as ort  # only when this back-end is chosen

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        try:
            self._session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
            names = ast.literal_eval(self._session.get_modelmeta().custom_metadata_map["names"])
        except Exception as exc:  # protobuf, KeyError (no Ultralytics metadata) and ORT's own errors
            raise ModelUnreadable(onnx_path, backend_gist(exc)) from exc
        self._input = self._session.get_inputs()[0].name
        self.name: str = name or onnx_path.name
        self.labels: Mapping[int, str] = {int(k): str(v) for k, v in names.items()}
        self._meanings = class_meanings(self.labels, meanings, classes_of_interest)
        if not self._meanings:
            raise UnexpectedClasses(onnx_path, sorted(classes_of_interest), dict(self.labels))
        self._keep = np.zeros(len(self.labels), dtype=bool)
        self._keep[list(self._meanings)] = True
        self._imgsz = imgsz
        self._confidence = confidence
        self._iou = iou
        self._max_detections = max_detections
        logger.info("loaded detector %s (ONNX Runtime %s, long side %d)", self.name, ort.__version__, imgsz)

    @property
    def meanings(self) -> Mapping[int, str]:
        return dict(self._meanings)

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        by_size = by_letterbox(images, self._imgsz)
        results: list[list[Detection]] = [[] for _ in images]
        for size, indices in by_size.items():
            boxed = [letterbox(images[i], size) for i in indices]
            # BGR HWC uint8 → RGB CHW float in [0, 1], the layout the export expects.
            batch = np.stack([b[0][:, :, ::-1].transpose(2, 0, 1) for b in boxed]).astype(np.float32) / 255.0
            [output] = self._session.run(None, {self._input: batch})
            for (index, (_, scale, pad)), raw in zip(zip(indices, boxed, strict=True), output, strict=True):
                height, width = images[index].shape[:2]
                results[index] = self._decode(raw, scale, pad, width, height)
        return results

    def _decode(
        self, raw: np.ndarray, scale: float, pad: tuple[int, int], width: int, height: int
    ) -> list[Detection]:
        # raw: (4 + classes, anchors) — centre x, centre y, width, height, then per-class scores.
        scores = raw[4:]
        best = scores.argmax(axis=0)
        best_score = scores[best, np.arange(best.size)]
        picked = np.flatnonzero((best_score >= self._confidence) & self._keep[best])
        if picked.size == 0:
            return []
        cx, cy, w, h = raw[:4, picked]
        xywh = np.stack([cx - w / 2, cy - h / 2, w, h], axis=1)
        nms = cv2.dnn.NMSBoxesBatched(
            xywh.tolist(), best_score[picked].tolist(), best[picked].tolist(), self._confidence, self._iou
        )
        kept = np.asarray(nms, dtype=int).reshape(-1)[: self._max_detections]
        detections: list[Detection] = []
        for k in kept:
            x, y, bw, bh = xywh[k]
            class_id = int(best[picked[k]])
            detections.append(
                Detection(
                    xyxy=(
                        float(np.clip((x - pad[0]) / scale, 0, width)),
                        float(np.clip((y - pad[1]) / scale, 0, height)),
                        float(np.clip((x + bw - pad[0]) / scale, 0, width)),
                        float(np.clip((y + bh - pad[1]) / scale, 0, height)),
                    ),
                    confidence=float(best_score[picked[k]]),
                    label=self._meanings[class_id],
                    class_id=class_id,
                )
            )
        return detections
