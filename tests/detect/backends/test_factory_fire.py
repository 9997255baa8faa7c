"""The site's fire/smoke model: on when installed, off (one log line) when not, one line when broken."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from api.site import configured_site
from api.wiring import build_analysis
from detect.backends.factory import build_fire_detector
from detect.errors import ModelError
from detect.registry import FIRE_DETECTOR, ModelEntry, SourceKind, package_file
from models.clock import SystemClock
from models.config import FireDetectorConfig
from tests.conftest import REPO
from tests.rig import DirectLink, NoDetector


def in_dir(name: str) -> ModelEntry:
    """The fire model's entry, but looked for as ``name`` in GRIDWATCH_MODEL_DIRS with no known digest."""
    return ModelEntry(
        name=name,
        source=SourceKind.PATH,
        locator=name,
        sha256=None,
        imgsz=640,
        meanings=FIRE_DETECTOR.meanings,
        requires_import=FIRE_DETECTOR.requires_import,
    )


def test_switched_off_in_the_config_loads_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="detect.backends.factory"):
        assert build_fire_detector(FireDetectorConfig(enabled=False)) is None
    assert [r.message for r in caplog.records if "fire/smoke detection" in r.message] == [
        "fire/smoke detection: off (detectors.fire.enabled is false); fire zones stay idle"
    ]


def test_without_the_package_fire_detection_is_off(
    caplog: pytest.LogCaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDWATCH_MODEL_DIRS", str(tmp_path))
    with caplog.at_level(logging.INFO, logger="detect.backends.factory"):
        assert build_fire_detector(candidates=(in_dir("flame.pt"),)) is None
    [line] = [r.message for r in caplog.records if "fire/smoke detection" in r.message]
    assert line.startswith("fire/smoke detection: off") and "gridwatch[fire]" in line


def test_a_truncated_model_stops_start_up_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = package_file(FIRE_DETECTOR.locator)
    assert shipped is not None, "pip install 'gridwatch[fire]' (fire-detector==1.0.3)"
    broken = tmp_path / "light_yolov8_flame.pt"
    broken.write_bytes(shipped.read_bytes()[:200_000])
    monkeypatch.setenv("GRIDWATCH_MODEL_DIRS", str(tmp_path))
    with pytest.raises(ModelError) as caught:
        build_fire_detector(candidates=(in_dir(broken.name),))
    assert "\n" not in str(caught.value)  # one line
    assert str(broken) in str(caught.value) and "cannot be loaded" in str(caught.value)


def test_the_fire_check_interval_is_set_per_site_and_per_camera(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GRIDWATCH_WEBHOOK_SECRET", "GRIDWATCH_WECOM_URL", "GRIDWATCH_DINGTALK_URL"):
        monkeypatch.setenv(name, "https://example.org/hook" if name.endswith("URL") else "secret")
    monkeypatch.setenv("GRIDWATCH_DINGTALK_SECRET", "secret")
    text = (REPO / "docs" / "site.example.yaml").read_text(encoding="utf-8")
    text = text.replace("    # fire_every_seconds: 1 ", "    fire_every_seconds: 1   ").replace(
        "every_seconds: 2  #", "every_seconds: 3  #"
    )
    path = tmp_path / "site.yaml"
    path.write_text(text, encoding="utf-8")
    site, detectors = configured_site(path)
    assert detectors.fire.every_seconds == 3.0
    assert site.fire_every_s_by_camera == {"cam-dongguan-road": 1.0}
    camera = site.cameras[0]
    node = build_analysis(
        DirectLink(), NoDetector(), SystemClock(), fire_every_s=3.0, fire_every_s_by_camera={camera.id: 1.0}
    )
    assert node.fire_stride(camera) == 2  # 1 s at 2 fps
    assert node.fire_stride(replace(camera, id="other")) == 6
    assert node.fire_stride(replace(camera, id="other", analysis_fps=0.25)) == 1
