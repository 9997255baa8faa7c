"""Event clips: the ring buffer's window, clip frames and timing, pixelated heads, the memory bound."""

from __future__ import annotations

import hashlib
import io
import logging
import uuid

import av
import numpy as np
import pytest

from detect.analysis.analyzer import CameraAnalyzer
from detect.analysis.clips import ENCODER_PREFERENCE, MP4, Clip, ClipRecorder, pick_encoder
from detect.rules import Model, Phase
from models.records import Camera, Detection, Mount, ZoneKind

from ..helpers import at, persons_inside, zone

# Full-size frame (1280×720 → 640×360 in the clip) and one person whose head is the top fifth of the box.
PERSON = Detection((400.0, 80.0, 560.0, 720.0), 0.9, "person", 0, 1)
HEAD_ROWS, BODY_ROWS, COLS = slice(44, 100), slice(150, 300), slice(204, 276)  # clip pixels, margins kept


def striped(width: int = 1280, height: int = 720, stripe_px: int = 8) -> np.ndarray:
    """Black and white horizontal stripes: pixelation turns them grey, a faithful encoding keeps them."""
    rows = (np.arange(height) // stripe_px) % 2 * 255
    return np.repeat(rows[:, None], width, axis=1)[:, :, None].repeat(3, axis=2).astype(np.uint8)


def flat(value: int, width: int = 320, height: int = 180) -> np.ndarray:
    return np.full((height, width, 3), value, np.uint8)


def decode(clip: Clip) -> tuple[str, list[float], list[np.ndarray]]:
    """Codec name, frame times in seconds from the first frame, and the frames, as a player sees them."""
    with av.open(io.BytesIO(clip.data), mode="r") as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        assert stream.time_base is not None
        times = [float(f.pts * stream.time_base) for f in frames if f.pts is not None]
        return stream.codec_context.name, times, [f.to_ndarray(format="bgr24") for f in frames]


def feed(recorder: ClipRecorder, seconds: list[float], start_at: float | None = None) -> uuid.UUID:
    event_id = uuid.uuid4()
    for s in seconds:
        recorder.add(at(s), flat(int(s * 12) % 256), [])
        if s == start_at:
            recorder.start(event_id, at(s))
    return event_id


def test_ring_keeps_only_pre_seconds() -> None:
    recorder = ClipRecorder(fps=2, pre_seconds=5)
    feed(recorder, [i * 0.5 for i in range(40)])
    # 14.5 … 19.5 s: the frames of the last five seconds, the newest included.
    assert recorder.buffered_frames == 11
    # A camera analysed faster than its fps shortens the window instead of growing memory.
    feed(recorder, [20 + i * 0.1 for i in range(100)])
    assert recorder.buffered_frames == recorder.pre_frames == 12


def test_clip_holds_pre_and_post_frames_in_time_order() -> None:
    recorder = ClipRecorder(fps=2, pre_seconds=5, post_seconds=5)
    event_id = feed(recorder, [i * 0.5 for i in range(40)], start_at=10.0)
    [clip] = recorder.take_finished()
    assert recorder.take_finished() == []
    assert clip.event_id == event_id and clip.event_at == at(10)
    assert clip.frame_times == tuple(at(5 + i * 0.5) for i in range(21))  # 5 s before, the event, 5 s after
    assert clip.media_type == MP4 and clip.data[4:8] == b"ftyp"
    assert clip.sha256 == hashlib.sha256(clip.data).hexdigest()
    codec, times, frames = decode(clip)
    assert clip.codec == pick_encoder() and codec == ("h264" if "264" in clip.codec else clip.codec)
    # Shown at their capture times: a real-time slideshow at the analysis rate.
    assert times == pytest.approx([i * 0.5 for i in range(21)])
    # Each frame is the one captured then (grey level 12 × seconds; YUV's limited range shifts it a little).
    levels = [float(f.mean()) for f in frames]
    assert levels == pytest.approx([int(s * 12) for s in np.arange(5, 15.5, 0.5)], abs=5)
    assert levels == sorted(levels)


def test_clip_waits_for_its_post_window() -> None:
    recorder = ClipRecorder(fps=2, pre_seconds=2, post_seconds=3)
    feed(recorder, [i * 0.5 for i in range(10)], start_at=2.0)
    assert recorder.take_finished() == []  # 4.5 s: a frame of the window is still to come
    feed(recorder, [5.0])
    [clip] = recorder.take_finished()
    assert clip.frame_times[0] == at(0) and clip.frame_times[-1] == at(5)


def test_heads_are_pixelated_in_every_decoded_frame() -> None:
    recorder = ClipRecorder(fps=2, pre_seconds=1, post_seconds=1)
    image = striped()
    for i in range(5):
        recorder.add(at(i * 0.5), image, [PERSON])
        if i == 2:
            recorder.start(uuid.uuid4(), at(i * 0.5))
    [clip] = recorder.take_finished()
    _, _, frames = decode(clip)
    assert len(frames) == 5
    original = image[::2, ::2]  # the clip's 640×360 scale; halving keeps 4 px stripes exactly
    for frame in frames:
        assert frame.shape == (360, 640, 3)
        # Below the head the stripes survive encoding, so a grey head is the pixelation, not the codec.
        assert np.abs(frame[BODY_ROWS, COLS].astype(int) - original[BODY_ROWS, COLS]).mean() < 25
        assert frame[BODY_ROWS, COLS].std() > 100
        assert frame[HEAD_ROWS, COLS].std() < 20
        assert np.abs(frame[HEAD_ROWS, COLS].astype(int) - original[HEAD_ROWS, COLS]).mean() > 100


def crowd_analyzer(clips: ClipRecorder | bool = True) -> CameraAnalyzer:
    crowd = zone(ZoneKind.CROWD, min_persons=5, min_seconds=1, cooldown_seconds=10)
    camera = Camera("cam-1", "test", "test.avi", (640, 480), Mount((118.63, 35.79)), zones=(crowd,))
    return CameraAnalyzer(camera, clips=clips)


def test_analyzer_clips_every_start_around_its_frame() -> None:
    analyzer = crowd_analyzer()
    assert analyzer.clips is not None and (analyzer.clips.pre_seconds, analyzer.clips.post_seconds) == (5, 5)
    image = np.full((480, 640, 3), 90, np.uint8)
    fired: list[tuple[float, uuid.UUID]] = []
    clips: list[tuple[float, Clip]] = []
    for i in range(40):
        outputs = analyzer.analyze(persons_inside(6), image, at(i * 0.5))
        fired += [(i * 0.5, o.event.id) for o in outputs if o.phase is Phase.START]
        clips += [(i * 0.5, c) for job in analyzer.take_clip_jobs() for c in job.encode()]
    [(fired_s, event_id)] = fired
    [(done_s, clip)] = clips
    assert clip.event_id == event_id and clip.event_at == at(fired_s)
    # Handed over on the frame that completes the post window: the START was recorded long before.
    assert done_s == fired_s + 5
    assert clip.frame_times == tuple(at(s) for s in np.arange(max(0, fired_s - 5), fired_s + 5.5, 0.5))
    assert crowd_analyzer(clips=False).clips is None


def test_frames_without_person_boxes_stay_out_of_clips() -> None:
    """Frames only the fire model saw have no person boxes, so their heads could not be pixelated."""
    analyzer = crowd_analyzer(ClipRecorder(fps=2, pre_seconds=2, post_seconds=2))
    image = np.full((480, 640, 3), 90, np.uint8)
    fired: list[float] = []
    for i in range(16):
        ran = {Model.FIRE} if i % 4 == 3 else {Model.PERSON, Model.FIRE}
        outputs = analyzer.analyze(persons_inside(6), image, at(i * 0.5), ran=ran)
        fired += [i * 0.5 for o in outputs if o.phase is Phase.START]
    [clip] = [c for job in analyzer.take_clip_jobs() for c in job.encode()]
    [fired_s] = fired
    expected = [s for s in np.arange(fired_s - 2, fired_s + 2.5, 0.5) if s >= 0 and round(s * 2) % 4 != 3]
    assert clip.frame_times == tuple(at(s) for s in expected)


def test_memory_stays_bounded_under_an_event_storm(caplog: pytest.LogCaptureFixture) -> None:
    recorder = ClipRecorder(fps=2, pre_seconds=5, post_seconds=5, max_width=320, max_pending=4)
    noise = np.random.default_rng(7).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    largest = 0
    finished = 0
    with caplog.at_level(logging.WARNING, logger="detect.analysis.clips"):
        for i in range(60):
            recorder.add(at(i * 0.5), noise, [])
            if i % 2 == 0:  # an event every second, more than the pending limit allows
                recorder.start(uuid.uuid4(), at(i * 0.5))
            largest = max(largest, recorder.buffered_frames)
            finished += len(recorder.take_finished())
    # Overlapping clips share frames: never more than one pre window and one post window of frames.
    assert largest <= recorder.pre_frames + recorder.post_frames
    assert recorder.buffered_bytes <= largest * 320 * 180 * 3  # compressed, never above raw
    assert finished > 0 and "already pending" in caplog.text


def test_events_on_the_same_frame_share_one_encoding() -> None:
    recorder = ClipRecorder(fps=2, pre_seconds=1, post_seconds=1)
    first, second = uuid.uuid4(), uuid.uuid4()
    for i in range(6):
        recorder.add(at(i * 0.5), flat(40 * i), [])
        if i == 2:
            recorder.start(first, at(1))
            recorder.start(second, at(1))
    clips = recorder.take_finished()
    assert [c.event_id for c in clips] == [first, second]
    assert clips[0].data is clips[1].data


def test_zero_post_seconds_finishes_at_the_event() -> None:
    recorder = ClipRecorder(fps=2, pre_seconds=1, post_seconds=0)
    feed(recorder, [0.0, 0.5, 1.0], start_at=1.0)
    [clip] = recorder.take_finished()
    assert clip.frame_times == (at(0), at(0.5), at(1))


def test_flush_encodes_what_a_pending_clip_has() -> None:
    recorder = ClipRecorder(fps=2, pre_seconds=1, post_seconds=5)
    feed(recorder, [0.0, 0.5, 1.0, 1.5], start_at=1.0)
    recorder.flush()
    [clip] = recorder.take_finished()
    assert clip.frame_times == (at(0), at(0.5), at(1), at(1.5))


def test_mpeg4_is_the_fallback_encoder() -> None:
    recorder = ClipRecorder(fps=1, pre_seconds=1, post_seconds=1, codec="mpeg4")
    feed(recorder, [0.0, 1.0, 2.0], start_at=1.0)
    [clip] = recorder.take_finished()
    codec, times, _ = decode(clip)
    assert (clip.codec, codec) == ("mpeg4", "mpeg4") and times == pytest.approx([0, 1, 2])


def test_h264_is_preferred_when_the_build_has_it() -> None:
    encoder = pick_encoder()
    assert encoder in ENCODER_PREFERENCE
    if "libx264" in av.codecs_available:
        assert encoder == "libx264"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fps": 0}, "fps must be positive"),
        ({"fps": 2, "pre_seconds": -1}, "clip seconds"),
        ({"fps": 2, "max_width": 1}, "max_width"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ClipRecorder(**kwargs)  # type: ignore[arg-type]
