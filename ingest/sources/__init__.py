"""Frame sources: the camera edge. ``open_source`` picks one from a camera's ``source`` string."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from ingest.frames import FrameSource
from ingest.sources.file import FileSource
from ingest.sources.rtsp import RtspSource
from ingest.urls import mask_url
from models.clock import Clock
from models.records import Camera

__all__ = ["FileSource", "Opener", "RtspSource", "open_source"]

RTSP_SCHEMES = frozenset({"rtsp", "rtsps"})

#: Opens a camera whose source has a scheme of another module's (``gb28181://`` channels of a GB/T 28181
#: platform); given by the wiring, so this package needs no knowledge of SIP.
Opener = Callable[[Camera, Clock], FrameSource]


def open_source(camera: Camera, clock: Clock, openers: Mapping[str, Opener] | None = None) -> FrameSource:
    """An RtspSource for rtsp:// and rtsps:// URLs, a FileSource for an existing local file, or what
    ``openers`` opens for its scheme.

    RTSP cameras decode keyframes only when their GOP allows the camera's analysis rate (see RtspSource).
    """
    source = camera.source.strip()
    try:
        scheme = urlsplit(source).scheme.lower()
    except ValueError:
        scheme = ""
    if openers and scheme in openers:
        return openers[scheme](camera, clock)
    if scheme in RTSP_SCHEMES:
        # Keyframes only once the camera's GOP is known to be short enough for its analysis rate.
        interval = 1.0 / camera.analysis_fps if camera.analysis_fps > 0 else None
        return RtspSource(camera.id, source, clock, analysis_interval_s=interval)
    if not scheme or len(scheme) == 1:  # a bare path, or a Windows drive letter
        path = Path(source)
        if path.is_file():
            return FileSource(camera.id, path, clock)
        raise ValueError(f"camera {camera.id}: source {mask_url(source)!r} is not an existing video file")
    raise ValueError(
        f"camera {camera.id}: source {mask_url(source)!r} is neither an rtsp:// or rtsps:// URL "
        "nor a local video file"
    )
