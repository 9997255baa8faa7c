"""COCO detection with the CenterNet/MobileNetV3 graph model of the npm package ``@vladmandic/human``.

The demo's default detector on a fresh install: persons *and* vehicles (car, truck, bus, motorcycle,
bicycle) and the furniture of a stall, offline, torch-free. The TensorFlow.js graph is rebuilt for OpenVINO
by ``detect.backends.tfjs_graph``; this module only decodes its two heads. Provenance and licence:
detect/PROVENANCE.md.

Decoding (CenterNet): ``keypoints`` is a per-class centre heatmap at stride 4 (sigmoid already applied), a
peak is a cell equal to the 3×3 maximum around it, and ``wh`` holds that cell's distances to the box's
left, top, right and bottom edges in input pixels.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from detect.backends.tfjs_graph import to_openvino
from detect.errors import ModelUnreadable, UnexpectedClasses, backend_gist
from detect.labels import ALL_MEANINGS, DEFAULT_MEANINGS, class_meanings
from models.records import Detection

logger = logging.getLogger(__name__)

#: The 80 COCO class names in the model's class order (the usual contiguous COCO index).
COCO80: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag",
    "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat",
    "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle", "wine glass", "cup", "fork",
    "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog",
    "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed", "dining table", "toilet", "tv",
    "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip
INPUT = 512
STRIDE = 4
OUTPUTS = ("tower_0/keypoints", "tower_0/wh")


class CenterNetDetector:
    """Not thread-safe: one instance per worker thread, like the other back-ends."""

    def __init__(
        self,
        model_json: Path,
        *,
        # The service's default (detectors.person.confidence). Its peaks are lower than YOLO's scores: a
        # clear pedestrian on vtest scores 0.5–0.65, the parked van 0.38–0.45.
        confidence: float = 0.30,
        iou: float = 0.6,
        max_detections: int = 100,
        classes_of_interest: Collection[str] = ALL_MEANINGS,
        meanings: Mapping[str, str] = DEFAULT_MEANINGS,
        name: str | None = None,
    ) -> None:
        if not 0.0 < confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {confidence}")
        import openvino as ov

        self.name: str = name or model_json.name
        self.labels: Mapping[int, str] = dict(enumerate(COCO80))
        self._meanings = class_meanings(self.labels, meanings, classes_of_interest)
        if not self._meanings:
            raise UnexpectedClasses(model_json, sorted(classes_of_interest), dict(self.labels))
        self._keep = np.zeros(len(COCO80), dtype=bool)
        self._keep[list(self._meanings)] = True
        try:
            model = to_openvino(model_json, OUTPUTS)
            self._compiled: Any = ov.Core().compile_model(model, "CPU")
        except ModelUnreadable:
            raise
        except Exception as exc:  # OpenVINO's RuntimeError describes a graph it cannot compile
            raise ModelUnreadable(model_json, backend_gist(exc)) from exc
        self._confidence = confidence
        self._iou = iou
        self._max = max_detections
        logger.info("loaded detector %s (CenterNet, OpenVINO, %d×%d)", self.name, INPUT, INPUT)

    @property
    def meanings(self) -> Mapping[int, str]:
        return dict(self._meanings)

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        results: list[list[Detection]] = []
        for image in images:
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(f"expected HxWx3 uint8 BGR images, got {image.shape} {image.dtype}")
            # The graph's resize constants fix its input at 512×512; the model was trained on stretched
            # inputs (as its own library feeds it), so no letterbox.
            rgb = cv2.cvtColor(cv2.resize(image, (INPUT, INPUT)), cv2.COLOR_BGR2RGB)
            outputs = self._compiled([rgb[np.newaxis].astype(np.float32)])
            heat, wh = (outputs[self._compiled.output(i)][0] for i in range(2))
            results.append(self._decode(heat, wh, image.shape[1], image.shape[0]))
        return results

    def _decode(self, heat: np.ndarray, wh: np.ndarray, width: int, height: int) -> list[Detection]:
        peaks = heat == cv2.dilate(heat.transpose(1, 2, 0), np.ones((3, 3), np.uint8)).transpose(2, 0, 1)
        candidates = peaks & (heat >= self._confidence) & self._keep[:, None, None]
        class_id, row, col = np.nonzero(candidates)
        if class_id.size == 0:
            return []
        score = heat[class_id, row, col]
        cx, cy = col * STRIDE, row * STRIDE
        left, top, right, bottom = wh[:, row, col]
        xyxy = np.stack([cx - left, cy - top, cx + right, cy + bottom], axis=1).astype(np.float32)
        xyxy[:, [0, 2]] = (xyxy[:, [0, 2]] * (width / INPUT)).clip(0, width)
        xyxy[:, [1, 3]] = (xyxy[:, [1, 3]] * (height / INPUT)).clip(0, height)
        # Neighbouring peaks of one object (a van scored as car, truck and bus) are merged by our meaning:
        # the rules see one vehicle, not three.
        xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
        order = sorted(set(self._meanings.values()))
        groups = [order.index(self._meanings[int(c)]) for c in class_id]
        kept = np.asarray(
            cv2.dnn.NMSBoxesBatched(xywh.tolist(), score.tolist(), groups, self._confidence, self._iou),
            dtype=int,
        ).reshape(-1)[: self._max]
        return [
            Detection(
                xyxy=(float(xyxy[i, 0]), float(xyxy[i, 1]), float(xyxy[i, 2]), float(xyxy[i, 3])),
                confidence=float(score[i]),
                label=self._meanings[int(class_id[i])],
                class_id=int(class_id[i]),
            )
            for i in kept
        ]
