"""Test clips made with ffmpeg from the demo video: 1080p at 25 fps with a one-second GOP, like a camera.

vtest.avi has 10 pictures a second; its pictures are played at 25 fps (people walk 2.5× faster) rather
than repeated by an ``fps`` filter, because a camera sends a new picture every frame: repeated pictures
make near-empty P-frames and flatter decode-all.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.common import VTEST

CACHE = Path(tempfile.gettempdir()) / "gridwatch-bench-clips"
ENCODERS = {"h264": ("libx264", "veryfast"), "h265": ("libx265", "ultrafast")}


def clip(codec: str, seconds: int, *, fps: int = 25, gop: int = 25, size: str = "1920x1080") -> Path:
    """An MP4 of ``seconds`` of vtest.avi upscaled to ``size``; made once and kept in the temp dir."""
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg is not installed (sh /work/shared/peers/install.sh installs it)")
    encoder, preset = ENCODERS[codec]
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"vtest-{size}-{fps}fps-gop{gop}-{seconds}s-distinct.{codec}.mp4"
    if path.exists():
        return path
    width, height = size.split("x")
    # Fixed GOP without scene-cut keyframes: a camera's encoder emits one every `gop` frames, no more.
    gop_args = (
        ["-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0", "-bf", "0"]
        if codec == "h264"
        else ["-x265-params", f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:log-level=error"]
    )
    partial = path.with_suffix(".part.mp4")
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(VTEST), "-t", str(seconds),
            "-vf", f"setpts=N/{fps}/TB,scale={width}:{height}", "-r", str(fps), "-an",
            "-c:v", encoder, "-preset", preset,
            *gop_args, "-pix_fmt", "yuv420p", str(partial),
        ],
        check=True,
    )  # fmt: skip
    partial.rename(path)
    return path
