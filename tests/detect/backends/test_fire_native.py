"""The fire/smoke model exported for OpenVINO and ONNX Runtime: same boxes as the .pt, recorded provenance.

Real model (fire-detector 1.0.3's light_yolov8_flame.pt), real eval images, real exports made once per
module in a child process (~5 s each on 2 cores), hence slow.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from detect.backends.factory import build_fire_detector
from detect.backends.fire_native import MultiScale, export_fire, native_fire_detector, provenance_path
from detect.backends.openvino_native import OpenVinoDetector
from detect.backends.ultralytics import UltralyticsDetector
from detect.geometry import iou
from detect.registry import FIRE_DETECTOR, ModelEntry, ResolvedModel, SourceKind, resolve_fire_model
from detect.rules.fire import DETECTOR_CONFIDENCE_FLOOR
from models.records import Detection
from tests.conftest import SHARED, SHARED_MODELS

pytestmark = [pytest.mark.slow, pytest.mark.computes]

EVAL = SHARED / "data" / "eval"
#: Flames and plumes (608² CCTV), a wide car fire (799×464), a plume and two negatives, one portrait.
IMAGES = (
    "fire/fire8__alley_wallfire_cctv__fire2_mp4-50.jpg",
    "fire/ytl__taiwan_freeway_carfire_test1.jpg",
    "fire/fire8__industrial_plume__img_804.jpg",
    "fire_negative/rfinf__truck.jpg",
    "fire_negative/coco__000000419312.jpg",
)


@pytest.fixture(scope="module")
def fire_model() -> ResolvedModel:
    resolved = resolve_fire_model()
    if resolved is None:
        pytest.skip("pip install 'gridwatch[fire]' (fire-detector==1.0.3)")
    return resolved


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory, fire_model: ResolvedModel) -> Path:
    """Both exports, made once for the module."""
    directory = tmp_path_factory.mktemp("exports")
    export_fire(fire_model, "openvino", cache_dir=directory)
    export_fire(fire_model, "onnxruntime", cache_dir=directory)
    return directory


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    found = []
    for name in IMAGES:
        candidates = sorted(EVAL.glob(name))
        if not candidates:
            pytest.skip(f"no {name} in {EVAL}")
        image = cv2.imread(str(candidates[0]))
        assert image is not None, candidates[0]
        found.append(image)
    return found


def _matched(reference: list[Detection], other: list[Detection]) -> None:
    """Every box of one has a box of the same label in the other: corners within 1.5 px (rounding of the
    letterbox's scale differs by a fraction of a pixel), confidence within 0.01."""
    assert len(other) == len(reference), (reference, other)
    for box in reference:
        best = max((o for o in other if o.label == box.label), key=lambda o: iou(o.xyxy, box.xyxy))
        assert max(abs(a - b) for a, b in zip(best.xyxy, box.xyxy, strict=True)) <= 1.5, (box, best)
        assert abs(best.confidence - box.confidence) <= 0.01, (box, best)


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
def test_the_export_finds_what_the_pt_finds_on_eval_images(
    backend: str, fire_model: ResolvedModel, cache: Path, images: list[np.ndarray]
) -> None:
    reference = UltralyticsDetector.from_resolved(fire_model, confidence=DETECTOR_CONFIDENCE_FLOOR)
    native = native_fire_detector(
        fire_model,
        backend,  # type: ignore[arg-type]
        confidence=DETECTOR_CONFIDENCE_FLOOR,
        cache_dir=cache,
    )
    assert dict(native.labels) == dict(reference.labels) == {0: "smoke", 1: "fire"}
    # One at a time: Ultralytics pads a batch of mixed sizes to squares; each camera's frames are one size.
    expected = [reference.detect([image])[0] for image in images]
    found = native.detect(images)
    # Both labels seen on the positives, nothing confident on the truck: the comparison is not vacuous.
    assert {d.label for d in expected[0]} == {"fire", "smoke"}
    assert {d.label for d in expected[1]} >= {"fire"}
    for want, got in zip(expected, found, strict=True):
        _matched(want, got)


def test_each_export_records_where_it_came_from(fire_model: ResolvedModel, cache: Path) -> None:
    records = sorted(cache.glob("*.provenance.json"))
    assert len(records) == 2
    for record in records:
        found = json.loads(record.read_text(encoding="utf-8"))
        assert found["source_sha256"] == FIRE_DETECTOR.sha256
        assert found["source_version"] == "1.0.3"
        assert found["source_package"].replace("_", "-") == "fire-detector"
        assert found["format"] in ("openvino", "onnx")
        assert found["exporter"].startswith("ultralytics ")


def test_an_export_that_no_longer_matches_its_record_is_made_again(
    fire_model: ResolvedModel, cache: Path, tmp_path: Path
) -> None:
    [folder] = [p for p in cache.iterdir() if p.is_dir() and p.name.endswith("_openvino_model")]
    shutil.copytree(folder, tmp_path / folder.name)
    shutil.copy(provenance_path(folder), tmp_path)
    [weights] = (tmp_path / folder.name).glob("*.bin")
    weights.write_bytes(weights.read_bytes()[:1000])  # a truncated copy
    export = export_fire(fire_model, "openvino", cache_dir=tmp_path)
    [weights] = export.glob("*.bin")
    assert weights.stat().st_size > 1_000_000
    recorded = json.loads(provenance_path(export).read_text(encoding="utf-8"))
    assert recorded == {**recorded, "export_file": weights.name}
    assert isinstance(
        native_fire_detector(fire_model, "openvino", confidence=0.1, cache_dir=tmp_path), MultiScale
    )


@pytest.fixture
def export_cache(cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("GRIDWATCH_EXPORT_CACHE", str(cache))
    yield cache


def test_the_site_fire_detector_runs_on_a_torch_free_person_runtime(
    export_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if not (SHARED_MODELS / "yolov8n_int8_openvino_model").is_dir():
        pytest.skip(f"no OpenVINO export in {SHARED_MODELS}")
    person = OpenVinoDetector(SHARED_MODELS / "yolov8n_int8_openvino_model")
    with caplog.at_level(logging.INFO, logger="detect.backends.factory"):
        fire = build_fire_detector(person=person)
    assert isinstance(fire, MultiScale) and fire.backend == "OpenVinoDetector"
    assert dict(fire.labels) == {0: "smoke", 1: "fire"}
    [line] = [r.message for r in caplog.records if r.message.startswith("fire/smoke detection: on")]
    assert "OpenVinoDetector" in line


def test_without_a_torch_free_person_runtime_it_stays_on_torch_and_says_why(
    export_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="detect.backends.factory"):
        fire = build_fire_detector()
    assert isinstance(fire, UltralyticsDetector)
    assert "fire/smoke model runs on Ultralytics (torch): no person detector given" in caplog.messages


def test_a_model_that_cannot_be_exported_falls_back_to_torch_with_a_line(
    fire_model: ResolvedModel,
    export_cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Weights with no known digest are not exported (the record could vouch for nothing): torch runs them."""
    if not (SHARED_MODELS / "yolov8n_int8_openvino_model").is_dir():
        pytest.skip(f"no OpenVINO export in {SHARED_MODELS}")
    shutil.copy(fire_model.weights, tmp_path / "flame.pt")
    monkeypatch.setenv("GRIDWATCH_MODEL_DIRS", str(tmp_path))
    unknown = ModelEntry(
        name="flame.pt",
        source=SourceKind.PATH,
        locator="flame.pt",
        sha256=None,
        imgsz=640,
        meanings=FIRE_DETECTOR.meanings,
        requires_import=FIRE_DETECTOR.requires_import,
    )
    person = OpenVinoDetector(SHARED_MODELS / "yolov8n_int8_openvino_model")
    with caplog.at_level(logging.INFO, logger="detect.backends.factory"):
        fire = build_fire_detector(candidates=(unknown,), person=person)
    assert isinstance(fire, UltralyticsDetector)
    [line] = [m for m in caplog.messages if m.startswith("fire/smoke model runs on Ultralytics")]
    assert "openvino export failed" in line and "sha256-verified" in line


def test_serve_and_node_build_the_fire_model_on_the_person_runtime(
    export_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `gridwatch serve`/`demo` (api/cli/running.py) and `gridwatch node` (api/cli/county.py) load."""
    if not (SHARED_MODELS / "yolov8n_int8_openvino_model").is_dir():
        pytest.skip(f"no OpenVINO export in {SHARED_MODELS}")
    from api.cli.county import build_detectors
    from api.cli.running import _detectors
    from models.config import DetectorsSection

    monkeypatch.setenv("GRIDWATCH_MODEL_DIRS", str(SHARED_MODELS))
    for build in (_detectors, build_detectors):
        person, fire = build(DetectorsSection())
        assert person.name == "yolov8n_int8_openvino_model"
        assert isinstance(fire, MultiScale) and fire.backend == "OpenVinoDetector"
