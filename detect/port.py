"""The detector port: images in, our Detections out. A detector knows nothing of cameras, zones or time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np

from models.records import Detection


class Detector(Protocol):
    #: Identifies the weights in logs and metrics (e.g. "yolov8n_int8_openvino_model").
    name: str
    #: class_id → the model's raw class name; ``Detection.label`` holds our meaning instead.
    labels: Mapping[int, str]

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Detect in a batch of BGR images of any sizes; one list per image, in input order."""
        ...
