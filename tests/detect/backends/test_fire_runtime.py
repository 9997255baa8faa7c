"""Which runtime the fire model follows, how its scales merge, the export command's bad input (no model)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytest

from detect.backends.fire_native import MultiScale, main, runtime_of
from detect.backends.onnx_runtime import OnnxRuntimeDetector
from detect.backends.openvino_native import OpenVinoDetector
from detect.backends.ultralytics import UltralyticsDetector
from detect.registry import FIRE_DETECTOR, package_file
from models.records import Detection


class Fixed:
    """A detector at one input size that finds the same boxes in every image."""

    def __init__(self, boxes: list[Detection]) -> None:
        self.name = "fixed"
        self.labels: Mapping[int, str] = {0: "smoke", 1: "fire"}
        self._boxes = boxes

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        return [list(self._boxes) for _ in images]


def box(label: str, x: float, confidence: float) -> Detection:
    return Detection(xyxy=(x, 10.0, x + 50.0, 60.0), confidence=confidence, label=label, class_id=0)


def test_scales_merge_per_label_keeping_the_most_confident_of_overlapping_boxes() -> None:
    at_640 = Fixed([box("fire", 0, 0.4), box("smoke", 0, 0.3)])
    at_960 = Fixed([box("fire", 2, 0.6), box("fire", 200, 0.2)])
    found = MultiScale([at_640, at_960], "fire model").detect([np.zeros((8, 8, 3), np.uint8)] * 2)
    assert len(found) == 2
    assert sorted((d.label, d.confidence) for d in found[0]) == [("fire", 0.2), ("fire", 0.6), ("smoke", 0.3)]
    assert MultiScale([at_640], "fire model").detect([]) == []


def test_the_fire_model_follows_only_a_torch_free_person_runtime() -> None:
    # Real classes, not built (no model loaded): only the type matters.
    assert runtime_of(object.__new__(OpenVinoDetector)) == "openvino"
    assert runtime_of(object.__new__(OnnxRuntimeDetector)) == "onnxruntime"
    assert runtime_of(object.__new__(UltralyticsDetector)) is None
    assert runtime_of(Fixed([])) is None
    assert runtime_of(None) is None


def test_the_export_command_refuses_an_unknown_back_end(capsys: pytest.CaptureFixture[str]) -> None:
    if package_file(FIRE_DETECTOR.locator) is None:
        pytest.skip("pip install 'gridwatch[fire]'")
    assert main(["tensorrt"]) == 2
    assert capsys.readouterr().err.strip() == "unknown back-end 'tensorrt': openvino or onnxruntime"
