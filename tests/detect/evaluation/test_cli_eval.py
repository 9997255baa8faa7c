"""``gridwatch eval`` end to end on five files of the public set; the full run is in docs/detection.md."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import SHARED
from tests.servers import run_cli

SHARED_EVAL = SHARED / "data" / "eval"
SUBSET = (
    "fire/ytl__taiwan_freeway_carfire_test1.jpg",
    "fire/fire8__industrial_plume__img_816.jpg",
    "fire_negative/rfinf__truck.jpg",
    "fire_negative/coco__000000052891.jpg",
    "crowd/coco__000000005001.jpg",
)


@pytest.fixture
def small_set(tmp_path: Path) -> Path:
    """Five items of the public set, linked (never copied) into a folder of the same layout."""
    items = [i for i in json.loads((SHARED_EVAL / "items.json").read_text()) if i["file"] in SUBSET]
    for entry in items:
        target = tmp_path / entry["file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(SHARED_EVAL / entry["file"])
    (tmp_path / "items.json").write_text(json.dumps(items))
    return tmp_path


def env() -> dict[str, str]:
    return {**os.environ, "GRIDWATCH_MODEL_DIRS": str(SHARED / "models"), "YOLO_OFFLINE": "1"}


# Real models on real pictures: ./run test --fast leaves it out.
@pytest.mark.slow
@pytest.mark.computes
@pytest.mark.parametrize("fire_backend", ["ultralytics", "openvino"])
def test_json_records_per_file_and_figures(small_set: Path, fire_backend: str, tmp_path: Path) -> None:
    """The same figures with the fire model's OpenVINO export (what a torch-free node runs) as the .pt."""
    result = run_cli(
        "eval",
        str(small_set),
        "--json",
        "--fire-backend",
        fire_backend,
        env={**env(), "GRIDWATCH_EXPORT_CACHE": str(tmp_path / "exports")},
        timeout_s=170,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    records = {r["file"]: r for r in document["files"]}
    assert set(records) == set(SUBSET)
    assert set(records["fire/ytl__taiwan_freeway_carfire_test1.jpg"]["kinds"]) >= {"fire"}
    assert "smoke" in records["fire/fire8__industrial_plume__img_816.jpg"]["kinds"]
    assert records["fire_negative/rfinf__truck.jpg"]["kinds"] == []
    assert records["crowd/coco__000000005001.jpg"]["persons"] >= 0.6 * 17
    assert "crowd" in records["crowd/coco__000000005001.jpg"]["kinds"]
    every = document["summary"]["all"]
    assert every["fire_or_smoke"]["precision"] == 1.0 and every["fire_or_smoke"]["recall"] == 1.0
    assert every["crowds"][0]["ok"]
    assert document["models"][0].startswith("yolov8n_int8_openvino_model")
    assert document["models"][1].endswith("its openvino export") == (fire_backend == "openvino")


def test_a_folder_without_items_json_exits_2_naming_it(tmp_path: Path) -> None:
    result = run_cli("eval", str(tmp_path), env=env())
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"error: {tmp_path / 'items.json'}: no such file (is {tmp_path} an evaluation folder?)"
    )
