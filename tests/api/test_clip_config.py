"""The site's clips section reaches every camera's clip buffer, or turns clips off."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from api.site import configured_site
from api.wiring import build_analysis
from detect.analysis.analyzer import CameraAnalyzer
from detect.analysis.node import AnalysisNode
from models.clock import SystemClock
from tests.conftest import REPO
from tests.rig import DirectLink, NoDetector


def site_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clips: str) -> Path:
    for name in ("GRIDWATCH_WEBHOOK_SECRET", "GRIDWATCH_WECOM_URL", "GRIDWATCH_DINGTALK_URL"):
        monkeypatch.setenv(name, "https://example.org/hook" if name.endswith("URL") else "secret")
    monkeypatch.setenv("GRIDWATCH_DINGTALK_SECRET", "secret")
    text = (REPO / "docs" / "site.example.yaml").read_text(encoding="utf-8")
    start = text.index("clips:\n")
    end = text.index("\n\n", start)
    path = tmp_path / "site.yaml"
    path.write_text(text[:start] + clips + text[end:], encoding="utf-8")
    return path


def analysis_node(clip_seconds: tuple[float, float] | None) -> AnalysisNode:
    """The analysis role as serve builds it for the site (no camera runs: only its clip settings matter)."""
    return build_analysis(DirectLink(), NoDetector(), SystemClock(), clip_seconds=clip_seconds)


def test_configured_seconds_shape_each_cameras_clip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = site_with(tmp_path, monkeypatch, "clips:\n  pre_seconds: 2\n  post_seconds: 1")
    site, _ = configured_site(path)
    assert site.clip_seconds == (2.0, 1.0)
    camera = site.cameras[0]  # 2 analysed frames per second
    recorder = analysis_node(site.clip_seconds).clip_recorder(camera)
    assert recorder is not None
    assert (recorder.pre_seconds, recorder.post_seconds, recorder.fps) == (2.0, 1.0, 2.0)
    # A START at 10 s: its clip holds 8 s–11 s, the frames of 2 s before and 1 s after it.
    t0 = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    image = np.full((120, 160, 3), 90, np.uint8)
    for i in range(24):
        at = t0 + timedelta(seconds=i * 0.5)
        recorder.add(at, image, [])
        if i == 20:
            recorder.start(uuid.uuid4(), at)
    [clip] = recorder.take_finished()
    offsets = [(t - t0).total_seconds() for t in clip.frame_times]
    assert offsets[0] == 8.0 and offsets[-1] == 11.0


def test_clips_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site, _ = configured_site(site_with(tmp_path, monkeypatch, "clips:\n  enabled: false"))
    assert site.clip_seconds is None
    node = analysis_node(site.clip_seconds)
    camera = site.cameras[0]
    assert node.clips is None and node.clip_recorder(camera) is None
    assert CameraAnalyzer(camera, clips=node.clip_recorder(camera) or False).clips is None
