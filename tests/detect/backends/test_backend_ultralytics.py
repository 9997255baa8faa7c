"""The Ultralytics backend on real images, with both offline weight sources, never touching the network."""

from __future__ import annotations

import importlib
import socket
from pathlib import Path

import numpy as np
import pytest

import detect._ultralytics_env
from detect.backends.ultralytics import UltralyticsDetector
from detect.errors import ModelNotFound
from models.records import Detection


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    import ultralytics.utils.downloads as downloads

    monkeypatch.setattr(downloads, "safe_download", refuse)
    monkeypatch.setattr(downloads, "attempt_download_asset", refuse)


def test_importing_detect_forbids_downloads_and_installs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YOLO_OFFLINE", raising=False)
    monkeypatch.delenv("YOLO_AUTOINSTALL", raising=False)
    importlib.reload(detect._ultralytics_env)
    import os

    assert os.environ["YOLO_OFFLINE"] == "1"
    assert os.environ["YOLO_AUTOINSTALL"] == "False"
    assert detect._ultralytics_env.offline()
    from ultralytics.utils import is_online

    assert not is_online()


def test_openvino_converter_reports_no_usage() -> None:
    # The converter's usage events go to Google Analytics; with its telemetry package hidden it uses a no-op.
    with pytest.raises(ImportError):
        import openvino_telemetry  # noqa: F401
    from openvino.tools.ovc import telemetry_utils

    assert telemetry_utils.tm.__name__ == "openvino.tools.ovc.telemetry_stub"


@pytest.mark.parametrize("name", ["yolov8n.pt", "yolo11n.pt", "missing/dir_openvino_model"])
def test_missing_weights_raise_our_error_instead_of_downloading(name: str, no_network: None) -> None:
    with pytest.raises(ModelNotFound, match="do not exist"):
        UltralyticsDetector(Path(name))
    # Even a caller who asks for downloads gets none while YOLO_OFFLINE is set.
    with pytest.raises(ModelNotFound, match="resolve_person_model"):
        UltralyticsDetector(Path(name), allow_download=True)


def test_yolov8n_sees_the_people_and_the_bus(
    yolov8n: UltralyticsDetector, bus_image: np.ndarray, no_network: None
) -> None:
    [detections] = yolov8n.detect([bus_image])
    persons = [d for d in detections if d.label == "person"]
    vehicles = [d for d in detections if d.label == "vehicle"]
    assert len(persons) >= 4
    assert len(vehicles) >= 1
    assert yolov8n.labels[vehicles[0].class_id] == "bus"  # the raw class name stays reachable
    height, width = bus_image.shape[:2]
    for d in detections:
        x1, y1, x2, y2 = d.xyxy
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height  # original image pixels, not letterbox
        assert d.confidence >= 0.30 and d.track_id is None


def test_fall_weights_see_the_people(fall_model: UltralyticsDetector, bus_image: np.ndarray) -> None:
    [detections] = fall_model.detect([bus_image])
    assert sum(d.label == "person" for d in detections) >= 4
    assert dict(fall_model.meanings) == {0: "person", 1: "fall"}


def test_a_batch_of_different_sizes_keeps_order(yolov8n: UltralyticsDetector, bus_image: np.ndarray) -> None:
    crop = np.ascontiguousarray(bus_image[:400, :400])
    blank = np.zeros((240, 320, 3), np.uint8)
    batch = yolov8n.detect([crop, bus_image, blank])
    assert len(batch) == 3
    assert batch[1] == yolov8n.detect([bus_image])[0]
    assert batch[2] == []
    assert all(d.xyxy[2] <= 400 and d.xyxy[3] <= 400 for d in batch[0])
    assert yolov8n.detect([]) == []


def test_classes_of_interest_filter(bus_image: np.ndarray) -> None:
    from tests.conftest import SHARED_MODELS

    persons_only = UltralyticsDetector(
        SHARED_MODELS / "yolov8n_int8_openvino_model", classes_of_interest={"person"}
    )
    [detections] = persons_only.detect([bus_image])
    assert detections and {d.label for d in detections} == {"person"}


@pytest.mark.parametrize(
    "image",
    [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8), np.zeros((10, 10, 3), np.float32)],
    ids=["gray", "bgra", "float"],
)
def test_non_bgr_images_are_refused(yolov8n: UltralyticsDetector, image: np.ndarray) -> None:
    with pytest.raises(ValueError, match="BGR"):
        yolov8n.detect([image])


def test_boxes_from_two_input_sizes_merge_per_label() -> None:
    from detect.backends.ultralytics import merge_scales

    small = [Detection((10, 10, 50, 50), 0.4, "smoke", 0), Detection((100, 100, 140, 140), 0.3, "fire", 1)]
    large = [Detection((12, 11, 52, 50), 0.6, "smoke", 0), Detection((12, 11, 52, 50), 0.2, "fire", 1)]
    merged = merge_scales([small, large])
    assert sorted((d.label, d.confidence) for d in merged) == [("fire", 0.2), ("fire", 0.3), ("smoke", 0.6)]


def test_fire_model_runs_at_both_registered_sizes() -> None:
    from detect.registry import resolve_fire_model

    resolved = resolve_fire_model()
    assert resolved is not None, "pip install fire-detector==1.0.3"
    detector = UltralyticsDetector.from_resolved(resolved, confidence=0.1)
    assert detector._sizes == (640, 960)
    with pytest.raises(ValueError, match="multiple of 32"):
        UltralyticsDetector(resolved.weights, extra_imgsz=(1000,))
