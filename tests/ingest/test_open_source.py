from __future__ import annotations

from pathlib import Path

import pytest

from ingest.sources import FileSource, RtspSource, open_source
from models.clock import SystemClock
from models.records import Camera, Mount

CANARY = "Canary-Pw-55b1"


def camera(source: str) -> Camera:
    return Camera(id="cam-7", name="Gate", source=source, frame_size=(768, 576), mount=Mount((120.1, 30.2)))


def test_rtsp_url_gives_an_rtsp_source() -> None:
    source = open_source(camera(f"rtsp://admin:{CANARY}@10.0.0.7:554/ch1"), SystemClock())
    assert isinstance(source, RtspSource)
    assert source.camera_id == "cam-7"
    assert CANARY not in repr(source)


def test_rtsp_source_learns_whether_keyframes_serve_the_analysis_rate() -> None:
    from dataclasses import replace

    source = open_source(replace(camera("rtsp://10.0.0.7:554/ch1"), analysis_fps=0.5), SystemClock())
    assert isinstance(source, RtspSource)
    assert source.analysis_interval_s == 2.0 and not source.keyframes_only and source.decoding == "all"


def test_rtsps_url_gives_an_rtsp_source() -> None:
    assert isinstance(open_source(camera("rtsps://10.0.0.7:322/ch1"), SystemClock()), RtspSource)


def test_existing_file_gives_a_file_source(vtest: Path) -> None:
    source = open_source(camera(str(vtest)), SystemClock())
    assert isinstance(source, FileSource)
    assert source.path == vtest


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (f"http://admin:{CANARY}@10.0.0.7/video.mjpg", "neither an rtsp:// or rtsps:// URL"),
        ("/no/such/video.avi", "not an existing video file"),
        ("", "not an existing video file"),
    ],
)
def test_other_sources_are_refused_without_leaking_credentials(source: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        open_source(camera(source), SystemClock())
    assert CANARY not in str(raised.value)
    assert "cam-7" in str(raised.value)
