"""A YOLOv8/YOLO11 OpenVINO export run by OpenVINO itself: our letterbox, our decoding, OpenCV's NMS.

Why not Ultralytics: its ``predict`` pays per call for torch pre-processing, a torch NMS and result objects,
and an export's graph is frozen to its export size (640×640 here), so a 768×576 sub-stream is padded to a
square. This back-end cuts the graph before the head's decoding (whose anchor constants pin the size),
reshapes it to the letterboxed size of each camera's aspect ratio (any multiple of 32), and decodes the
raw per-level outputs in NumPy for only the anchors above the confidence threshold.

Feeding: OpenVINO's pre-processing takes the uint8 BGR letterbox as is (NHWC, no copy into a float
tensor on our side) and does the BGR→RGB, scaling and layout change inside the compiled model. A batch
from several cameras is spread over OpenVINO's streams through an ``AsyncInferQueue``.

Not thread-safe, like the Ultralytics back-end: one instance per worker thread.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from detect.backends.letterbox import by_letterbox, check_settings, letterbox
from detect.errors import ModelNotFound, ModelUnreadable, UnexpectedClasses, backend_gist
from detect.labels import ALL_MEANINGS, DEFAULT_MEANINGS, class_meanings
from models.records import Detection

logger = logging.getLogger(__name__)

STRIDES = (8, 16, 32)
#: The export's DFL bins per box side (YOLOv8 and YOLO11 both use 16).
DFL_BINS = 16
PERFORMANCE_HINTS = frozenset({"LATENCY", "THROUGHPUT", "CUMULATIVE_THROUGHPUT"})


def _head_outputs(model: Any) -> list[Any]:
    """The raw box (4×16 DFL logits) and class-logit outputs of each level, in stride order."""
    # The head is the last module: model.22 in YOLOv8n, model.23 in YOLO11n.
    pattern = re.compile(r"__module\.model\.\d+\.(cv2|cv3)\.(\d)\.2/aten::_convolution/Add")
    found: dict[tuple[str, int], Any] = {}
    for op in model.get_ordered_ops():
        match = pattern.fullmatch(op.get_friendly_name())
        if match:
            found[(match[1], int(match[2]))] = op.output(0)
    try:
        return [found[(branch, level)] for level in range(len(STRIDES)) for branch in ("cv2", "cv3")]
    except KeyError as exc:
        raise ValueError(f"cannot find the detection head's {exc.args[0]} output in the export") from None


class OpenVinoDetector:
    """YOLO detection on an OpenVINO export folder (``*.xml`` + ``*.bin`` + ``metadata.yaml``)."""

    def __init__(
        self,
        export_dir: Path,
        *,
        imgsz: int = 416,
        # Same default as the Ultralytics back-end (keeps bus.jpg's fourth person at 0.34).
        confidence: float = 0.30,
        iou: float = 0.7,
        max_detections: int = 300,
        classes_of_interest: Collection[str] = ALL_MEANINGS,
        meanings: Mapping[str, str] = DEFAULT_MEANINGS,
        name: str | None = None,
        performance_hint: str = "THROUGHPUT",
        threads: int | None = None,
        precision: str | None = None,
    ) -> None:
        """``precision``: OpenVINO's INFERENCE_PRECISION_HINT ("f32"); unset, the CPU plugin picks
        (bf16 on CPUs that have it, which moves confidences by a few hundredths)."""
        check_settings(confidence, imgsz)
        if performance_hint not in PERFORMANCE_HINTS:
            raise ValueError(f"performance_hint must be one of {sorted(PERFORMANCE_HINTS)}")
        export_dir = Path(export_dir)
        xmls = sorted(export_dir.glob("*.xml")) if export_dir.is_dir() else []
        metadata = export_dir / "metadata.yaml"
        if len(xmls) != 1 or not metadata.is_file():
            raise ModelNotFound(
                f"{export_dir} is not an OpenVINO export folder",
                (f"{export_dir}: expected one .xml and metadata.yaml",),
                "pass a folder written by Ultralytics' export(format='openvino')",
            )
        import openvino as ov  # heavy; only when a detector is really built

        self._ov = ov
        self._core = ov.Core()
        self._xml = xmls[0]
        try:
            names = yaml.safe_load(metadata.read_text(encoding="utf-8"))["names"]
            # Reading the graph also reads the .bin: a truncated export fails here, naming the folder,
            # rather than on a camera's first frame.
            self._core.read_model(self._xml)
        except Exception as exc:  # YAML, KeyError and OpenVINO's RuntimeError each describe a bad export
            raise ModelUnreadable(export_dir, backend_gist(exc)) from exc
        self.name: str = name or export_dir.name
        self.labels: Mapping[int, str] = {int(k): str(v) for k, v in names.items()}
        self._meanings = class_meanings(self.labels, meanings, classes_of_interest)
        if not self._meanings:
            raise UnexpectedClasses(export_dir, sorted(classes_of_interest), dict(self.labels))
        self._keep = np.zeros(len(self.labels), dtype=bool)
        self._keep[list(self._meanings)] = True
        self._imgsz = imgsz
        self._confidence = confidence
        # Sigmoid is monotonic: thresholding logits skips the sigmoid for the thousands of dropped anchors.
        self._logit_threshold = math.log(confidence / (1.0 - confidence))
        self._iou = iou
        self._max_detections = max_detections
        self._config: dict[str, Any] = {"PERFORMANCE_HINT": performance_hint}
        if threads:
            self._config["INFERENCE_NUM_THREADS"] = threads
        if precision:
            self._config["INFERENCE_PRECISION_HINT"] = precision
        self._compiled: dict[tuple[int, int], tuple[Any, Any]] = {}
        self._bins = np.arange(DFL_BINS, dtype=np.float32)
        logger.info(
            "loaded detector %s (OpenVINO %s, %s, long side %d)",
            self.name,
            ov.get_version(),
            performance_hint,
            imgsz,
        )

    @property
    def meanings(self) -> Mapping[int, str]:
        return dict(self._meanings)

    @property
    def streams(self) -> int:
        """Parallel inference streams of the last compiled size (for reports)."""
        if not self._compiled:
            return 0
        compiled, _ = next(iter(self._compiled.values()))
        return int(compiled.get_property("NUM_STREAMS"))

    def _model_for(self, size: tuple[int, int]) -> tuple[Any, Any]:
        """The compiled model and its request queue for one input size; compiled on first use (~1 s)."""
        cached = self._compiled.get(size)
        if cached is not None:
            return cached
        ov = self._ov
        model = self._core.read_model(self._xml)
        model = ov.Model(_head_outputs(model), model.get_parameters(), f"{self.name}-head")
        width, height = size
        model.reshape([1, 3, height, width])
        ppp = ov.preprocess.PrePostProcessor(model)
        ppp.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")).set_color_format(
            ov.preprocess.ColorFormat.BGR
        )
        ppp.input().model().set_layout(ov.Layout("NCHW"))
        ppp.input().preprocess().convert_color(ov.preprocess.ColorFormat.RGB).convert_element_type(
            ov.Type.f32
        ).scale(255.0)
        compiled = self._core.compile_model(ppp.build(), "CPU", self._config)
        streams = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        queue = ov.AsyncInferQueue(compiled, max(1, streams))
        self._compiled[size] = (compiled, queue)
        logger.info("compiled %s for %dx%d input, %d infer requests", self.name, width, height, streams)
        return compiled, queue

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        if not images:
            return []
        by_size = by_letterbox(images, self._imgsz)
        results: list[list[Detection]] = [[] for _ in images]
        for size, indices in by_size.items():
            _, queue = self._model_for(size)

            def done(request: Any, userdata: tuple[int, float, tuple[int, int]]) -> None:
                index, scale, pad = userdata
                raw = [request.get_output_tensor(i).data[0] for i in range(2 * len(STRIDES))]
                height, width = images[index].shape[:2]
                results[index] = self._decode(raw, scale, pad, width, height)

            queue.set_callback(done)
            for index in indices:
                boxed, scale, pad = letterbox(images[index], size)
                queue.start_async({0: self._ov.Tensor(boxed[np.newaxis])}, (index, scale, pad))
            queue.wait_all()
        return results

    def _decode(
        self, raw: list[np.ndarray], scale: float, pad: tuple[int, int], width: int, height: int
    ) -> list[Detection]:
        boxes: list[np.ndarray] = []
        scores: list[np.ndarray] = []
        classes: list[np.ndarray] = []
        for level, stride in enumerate(STRIDES):
            box_logits, class_logits = raw[2 * level], raw[2 * level + 1]
            grid_w = class_logits.shape[2]
            class_logits = class_logits.reshape(class_logits.shape[0], -1)
            # Like Ultralytics: an anchor's class is its best of all classes, filtered to ours afterwards.
            best = class_logits.argmax(axis=0)
            best_logit = class_logits[best, np.arange(best.size)]
            picked = np.flatnonzero((best_logit > self._logit_threshold) & self._keep[best])
            if picked.size == 0:
                continue
            dfl = box_logits.reshape(4, DFL_BINS, -1)[:, :, picked]
            dfl = np.exp(dfl - dfl.max(axis=1, keepdims=True))
            distances = (dfl * self._bins[None, :, None]).sum(axis=1) / dfl.sum(axis=1)  # (4, k): l t r b
            cx = (picked % grid_w + 0.5).astype(np.float32)
            cy = (picked // grid_w + 0.5).astype(np.float32)
            xyxy = np.stack(
                [cx - distances[0], cy - distances[1], cx + distances[2], cy + distances[3]], axis=1
            )
            boxes.append(xyxy * stride)
            scores.append(1.0 / (1.0 + np.exp(-best_logit[picked])))
            classes.append(best[picked])
        if not boxes:
            return []
        xyxy = np.concatenate(boxes)
        score = np.concatenate(scores)
        class_id = np.concatenate(classes)
        xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
        nms = cv2.dnn.NMSBoxesBatched(
            xywh.tolist(), score.tolist(), class_id.tolist(), self._confidence, self._iou
        )
        kept = np.asarray(nms, dtype=int).reshape(-1)[: self._max_detections]
        xyxy = xyxy[kept]
        xyxy[:, [0, 2]] = ((xyxy[:, [0, 2]] - pad[0]) / scale).clip(0, width)
        xyxy[:, [1, 3]] = ((xyxy[:, [1, 3]] - pad[1]) / scale).clip(0, height)
        return [
            Detection(
                xyxy=(float(x1), float(y1), float(x2), float(y2)),
                confidence=float(score[i]),
                label=self._meanings[int(class_id[i])],
                class_id=int(class_id[i]),
            )
            for (x1, y1, x2, y2), i in zip(xyxy, kept, strict=True)
        ]
