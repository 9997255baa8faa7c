"""Event clips: the seconds before and after an event START as a small MP4, heads pixelated in every frame.

A clip is made of the camera's *analysed* frames only, so it plays at the analysis rate (1–2 fps): a
slideshow in real time (each frame shown at its capture time), not smooth video. Two reasons:

- only analysed frames carry person boxes, and without boxes a frame's heads cannot be pixelated the way
  the snapshots are; a clip must not show what the snapshot hides;
- buffering every decoded 1080p frame (6 MB raw, 25 fps) for 32 cameras would cost GBs.

Frames are kept downscaled to at most 640 px wide, heads already pixelated and JPEG-compressed (typically
30–60 KB, 150 KB for the noisiest picture; raw 640×360 would be 0.7 MB). A camera holds at most
``pre_frames + post_frames`` of them (23 at 2 fps with 5 s + 5 s): overlapping clips share the same frame
objects, so the bound holds however many events start at once: 1–3.5 MB per camera, at most ~110 MB
for 32 cameras. CPU: ~3 ms per analysed frame (resize, pixelate, JPEG) and ~70 ms to encode a clip of
13 frames at 640×480 (~300 KB), both in the analyzer's worker thread.

Clips are clean, without boxes: the snapshot already shows them, and a clean clip can be re-analysed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import tempfile
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from functools import cache
from pathlib import Path

import av
import cv2
import numpy as np
from av.video.stream import VideoStream

from detect.analysis.evidence import encode_jpeg, pixelate_heads
from models.records import Camera, Detection

logger = logging.getLogger(__name__)

MP4 = "video/mp4"
PRE_SECONDS = 5.0
POST_SECONDS = 5.0
MAX_WIDTH = 640
# Buffered frames are decoded once more before the video encoder; 80 keeps that second loss invisible.
FRAME_JPEG_QUALITY = 80
# Clips collected at once per camera: a storm of events drops clips (logged) rather than growing work.
MAX_PENDING = 8
# Browsers play H.264 in MP4; MPEG-4 part 2 is the last resort of a PyAV build without any H.264 encoder.
ENCODER_PREFERENCE = ("libx264", "libopenh264", "mpeg4")
_TIME_BASE = Fraction(1, 1000)


@cache
def pick_encoder() -> str:
    """The best video encoder this PyAV build has; a bare "h264" may resolve to a GPU encoder: not tried."""
    for name in ENCODER_PREFERENCE:
        try:
            av.Codec(name, "w")
        except ValueError:  # UnknownCodecError: not compiled into this FFmpeg
            continue
        return name
    raise RuntimeError(f"PyAV has none of the video encoders {ENCODER_PREFERENCE}")


@dataclass(frozen=True, slots=True)
class ClipFrame:
    at: datetime
    jpeg: bytes  # downscaled, heads pixelated


@dataclass(frozen=True, slots=True)
class Clip:
    """An encoded clip of one event.

    ``event_at`` is the time of the frame whose analysis emitted the START (the episode may have begun
    earlier); ``frame_times`` are the capture times of the clip's frames, in order.
    """

    event_id: uuid.UUID
    event_at: datetime
    frame_times: tuple[datetime, ...]
    codec: str
    data: bytes
    sha256: str
    media_type: str = MP4


@dataclass(frozen=True, slots=True)
class ClipJob:
    """The collected frames of a clip (shared by the events that started on one frame), not yet encoded.

    ``encode`` is the costly part (~70 ms): the service runs it on a background thread so a burst of
    clips never delays the analysis of the next frames.
    """

    events: tuple[tuple[uuid.UUID, datetime], ...]  # (event id, time of the frame that started it)
    frames: tuple[ClipFrame, ...]
    fps: float
    codec: str | None = None

    def encode(self) -> list[Clip]:
        """One clip per event, all with the same bytes; none (logged) when the encoder fails."""
        codec = self.codec or pick_encoder()
        try:
            data = encode_mp4(self.frames, self.fps, codec)
        except (av.FFmpegError, ValueError, OSError):
            logger.exception("clip of event %s could not be encoded", self.events[0][0])
            return []
        digest = hashlib.sha256(data).hexdigest()
        times = tuple(f.at for f in self.frames)
        return [Clip(event_id, at, times, codec, data, digest) for event_id, at in self.events]


@dataclass(slots=True)
class _Pending:
    event_id: uuid.UUID
    event_at: datetime
    until: datetime
    frames: list[ClipFrame]
    post_frames: int = 0


@dataclass
class ClipRecorder:
    """One camera's ring buffer of analysed frames and the clips being collected from it.

    Not thread-safe: fed by the camera's analyzer, in time order. Clips whose frames are all collected
    wait in ``take_jobs`` to be encoded (``take_finished`` encodes them in the caller's thread).
    """

    fps: float
    pre_seconds: float = PRE_SECONDS
    post_seconds: float = POST_SECONDS
    max_width: int = MAX_WIDTH
    codec: str | None = None
    max_pending: int = MAX_PENDING
    _ring: deque[ClipFrame] = field(init=False, repr=False)
    _pending: list[_Pending] = field(init=False, default_factory=list, repr=False)
    _jobs: list[ClipJob] = field(init=False, default_factory=list, repr=False)

    @classmethod
    def for_camera(
        cls, camera: Camera, pre_seconds: float = PRE_SECONDS, post_seconds: float = POST_SECONDS
    ) -> ClipRecorder:
        """A buffer at the camera's analysis rate (1 fps for a camera with none set)."""
        fps = camera.analysis_fps if camera.analysis_fps > 0 else 1.0
        return cls(fps=fps, pre_seconds=pre_seconds, post_seconds=post_seconds)

    def __post_init__(self) -> None:
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if self.pre_seconds < 0 or self.post_seconds < 0:
            raise ValueError(f"clip seconds must be ≥ 0, got {self.pre_seconds} and {self.post_seconds}")
        if self.max_width < 2:
            raise ValueError(f"max_width must be at least 2 px, got {self.max_width}")
        self._ring = deque(maxlen=self.pre_frames)

    @property
    def pre_frames(self) -> int:
        """Most frames kept from before an event: the camera loop's throttle makes that fps × seconds.

        One more for the event's own frame and one for capture-time jitter against the loop's clock;
        frames arriving faster than ``fps`` shorten the window rather than grow memory.
        """
        return math.ceil(self.pre_seconds * self.fps) + 2

    @property
    def post_frames(self) -> int:
        return math.ceil(self.post_seconds * self.fps) + 1

    @property
    def buffered_bytes(self) -> int:
        """Bytes of frame data held now, each shared frame counted once."""
        frames = {id(f): f for f in self._ring}
        frames.update((id(f), f) for p in self._pending for f in p.frames)
        return sum(len(f.jpeg) for f in frames.values())

    @property
    def buffered_frames(self) -> int:
        return len({id(f) for f in self._ring} | {id(f) for p in self._pending for f in p.frames})

    def add(self, at: datetime, image: np.ndarray, detections: Sequence[Detection]) -> None:
        """Buffer an analysed frame; clips whose post window it reaches or passes are ready."""
        frame = ClipFrame(at, self._prepare(image, detections))
        self._ring.append(frame)
        horizon = at - timedelta(seconds=self.pre_seconds)
        while self._ring and self._ring[0].at < horizon:
            self._ring.popleft()
        done: list[_Pending] = []
        for pending in self._pending:
            if pending.event_at < at <= pending.until:
                pending.frames.append(frame)
                pending.post_frames += 1
            if at >= pending.until or pending.post_frames >= self.post_frames:
                done.append(pending)
        self._finish(done)

    def start(self, event_id: uuid.UUID, at: datetime) -> None:
        """Begin a clip for an event that started at ``at``: the buffered past, then ``post_seconds`` more.

        Call after ``add`` of the event's own frame, so that frame is in the clip.
        """
        if len(self._pending) >= self.max_pending:
            logger.warning("clip for event %s dropped: %d clips already pending", event_id, self.max_pending)
            return
        horizon = at - timedelta(seconds=self.pre_seconds)
        pending = _Pending(
            event_id,
            at,
            at + timedelta(seconds=self.post_seconds),
            [f for f in self._ring if horizon <= f.at <= at],
        )
        self._pending.append(pending)
        if self.post_seconds == 0:
            self._finish([pending])

    def flush(self) -> None:
        """Encode every pending clip with the frames it has (the stream ended before their windows did)."""
        self._finish(list(self._pending))

    def take_jobs(self) -> list[ClipJob]:
        """Clips whose frames are all collected, to be encoded by the caller (on a thread of its choice)."""
        jobs, self._jobs = self._jobs, []
        return jobs

    def take_finished(self) -> list[Clip]:
        """The collected clips, encoded here and now."""
        return [clip for job in self.take_jobs() for clip in job.encode()]

    def _finish(self, done: Sequence[_Pending]) -> None:
        # Events starting on the same frame (crowd and fall in one zone) share their frames: encode once.
        groups: dict[tuple[int, ...], list[_Pending]] = {}
        for pending in done:
            self._pending.remove(pending)
            if pending.frames:
                groups.setdefault(tuple(id(f) for f in pending.frames), []).append(pending)
        for group in groups.values():
            events = tuple((p.event_id, p.event_at) for p in group)
            self._jobs.append(ClipJob(events, tuple(group[0].frames), self.fps, self.codec))

    def _prepare(self, image: np.ndarray, detections: Sequence[Detection]) -> bytes:
        """Downscale, pixelate heads at the small size (coarser blocks: never less private), compress."""
        height, width = image.shape[:2]
        scale = min(1.0, self.max_width / width)
        # H.264 with 4:2:0 chroma needs even dimensions.
        out_w, out_h = max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)
        if (out_w, out_h) != (width, height):
            # INTER_AREA costs 5 ms at a 768→640 ratio, bilinear 1 ms; area averaging only pays (no
            # aliasing) from a halving on.
            shrink = cv2.INTER_AREA if scale <= 0.5 else cv2.INTER_LINEAR
            image = cv2.resize(image, (out_w, out_h), interpolation=shrink)
        sx, sy = out_w / width, out_h / height
        scaled = [
            dataclasses.replace(d, xyxy=(d.xyxy[0] * sx, d.xyxy[1] * sy, d.xyxy[2] * sx, d.xyxy[3] * sy))
            for d in detections
        ]
        return encode_jpeg(pixelate_heads(image, scaled), quality=FRAME_JPEG_QUALITY)


def encode_mp4(frames: Sequence[ClipFrame], fps: float, codec: str) -> bytes:
    """An MP4 whose frames are shown at their capture times (ms precision), moov first for streaming."""
    images = [_decode(f.jpeg) for f in frames]
    height, width = images[0].shape[:2]
    # faststart rewrites the file to put the index first, which needs a real file to reopen.
    with tempfile.TemporaryDirectory(prefix="gridwatch-clip-") as tmp:
        path = Path(tmp) / "clip.mp4"
        with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as container:
            stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
            assert isinstance(stream, VideoStream)  # a video codec name makes a video stream
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.codec_context.time_base = _TIME_BASE
            if codec == "libx264":
                # At 1–2 fps every frame is nearly a new picture and x264's search finds little to reuse:
                # ultrafast costs a third of veryfast for 1.4× the bytes. One thread: clips of many
                # cameras encode side by side, and x264's thread pool per clip only adds start-up cost.
                stream.options = {"preset": "ultrafast", "crf": "28", "threads": "1"}
            else:
                stream.codec_context.bit_rate = 1_000_000
            origin = frames[0].at
            last_pts = -1
            for frame, image in zip(frames, images, strict=True):
                if image.shape[:2] != (height, width):  # the camera changed resolution mid-clip
                    image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
                video_frame = av.VideoFrame.from_ndarray(image, format="bgr24")
                # The muxer refuses equal timestamps; two frames within a millisecond are one apart.
                last_pts = max(last_pts + 1, round((frame.at - origin).total_seconds() * 1000))
                video_frame.pts, video_frame.time_base = last_pts, _TIME_BASE
                container.mux(stream.encode(video_frame))
            container.mux(stream.encode())
        return path.read_bytes()


def _decode(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("a buffered clip frame is not a readable JPEG")
    return image
