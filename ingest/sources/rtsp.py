"""An RTSP camera decoded with PyAV, reconnecting forever with capped backoff until closed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any, cast

import av
import av.container
import av.error

from ingest.frames import Image
from ingest.health import CameraState
from ingest.packets import PacketFanout
from ingest.sources.threaded import ThreadedSource
from ingest.urls import mask_url, redact
from models.clock import Clock

logger = logging.getLogger(__name__)

TRANSPORTS = frozenset({"tcp", "udp", "udp_multicast", "http", "https"})
DEFAULT_BACKOFF_S: tuple[float, ...] = (0.5, 1, 2, 4, 8)
#: Keyframe spacing may exceed the analysis interval by this much and still serve it: analysing every
#: 1.04 s instead of every 1 s changes nothing a rule measures, while decoding 25× fewer pictures.
GOP_SLACK = 1.05
#: Keyframe intervals seen before deciding; the largest counts, so one early keyframe cannot fool it.
GOP_SAMPLES = 3


class _GopWatch:
    """The largest spacing of the first GOP_SAMPLES keyframe intervals, once they have been seen."""

    def __init__(self) -> None:
        self._last: float | None = None
        self._spacings: list[float] = []

    def keyframe(self, seconds: float) -> float | None:
        if self._last is not None and seconds > self._last:
            self._spacings.append(seconds - self._last)
        self._last = seconds
        return max(self._spacings) if len(self._spacings) >= GOP_SAMPLES else None


class RtspSource(ThreadedSource):
    """Pull H.264/H.265 from an rtsp:// or rtsps:// URL.

    Opening and every read are bounded (open_timeout_s, read_timeout_s), so a dead camera is noticed
    and retried. A stream that stays connected but yields no frame for stall_after_s is marked
    stalled at once and reconnected when its read gives up, or at once if packets keep coming.

    Keyframes only: ``keyframes_only=True`` decodes nothing else from the start. With
    ``analysis_interval_s`` instead, the source watches the camera's keyframe spacing (its GOP) and
    switches to keyframes only once keyframes come at least as often as the analyser wants a frame:
    the other pictures would be decoded only to be dropped. A long GOP keeps every frame decoded.

    Live video: every demuxed H.264 packet also goes, as the camera encoded it, to ``packets`` (a
    PacketFanout), so the wall plays this one connection instead of opening its own; it costs nothing
    while nobody watches. ``decode=False`` pulls for viewers alone (a camera not analysed here): packets
    only, no frames.
    """

    def __init__(
        self,
        camera_id: str,
        url: str,
        clock: Clock,
        *,
        transport: str = "tcp",
        open_timeout_s: float = 5,
        read_timeout_s: float = 5,
        keyframes_only: bool = False,
        analysis_interval_s: float | None = None,
        stall_after_s: float = 5,
        backoff: Sequence[float] = DEFAULT_BACKOFF_S,
        queue_size: int = 2,
        decode: bool = True,
    ) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(
                f"camera {camera_id}: transport must be one of {sorted(TRANSPORTS)}, got {transport!r}"
            )
        if not backoff or any(delay < 0 for delay in backoff):
            raise ValueError(
                f"camera {camera_id}: backoff must be non-empty and non-negative, got {backoff!r}"
            )
        if open_timeout_s <= 0 or read_timeout_s <= 0:
            raise ValueError(f"camera {camera_id}: timeouts must be positive")
        if analysis_interval_s is not None and analysis_interval_s <= 0:
            raise ValueError(f"camera {camera_id}: analysis_interval_s must be positive")
        super().__init__(camera_id, clock, queue_size=queue_size, stall_after_s=stall_after_s)
        self._url = url
        self.masked_url = mask_url(url)
        self.transport = transport
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.keyframes_only = keyframes_only
        self.analysis_interval_s = analysis_interval_s
        #: "all" or "keyframes": what the decoder is doing now (auto mode switches after a few GOPs).
        self.decoding = "keyframes" if keyframes_only else "all"
        self.stall_after_s = stall_after_s
        self.backoff = tuple(backoff)
        self.decode = decode
        self.packets = PacketFanout(camera_id)

    def start(self) -> None:
        if self._thread is None and not self._stop.is_set():
            self.packets.bind(asyncio.get_running_loop())
        super().start()

    async def aclose(self) -> None:
        await super().aclose()
        self.packets.end()

    def __repr__(self) -> str:
        return f"RtspSource({self.camera_id!r}, {self.masked_url!r})"

    def _describe_crash(self, text: str) -> str:
        return redact(text, self._url)

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, av.error.FFmpegError):
            # strerror leaves out the filename, which for us is the URL with its password.
            return f"{type(exc).__name__}: {exc.strerror}"
        return redact(f"{type(exc).__name__}: {exc}", self._url)

    def _delay(self, failures: int) -> float:
        return self.backoff[min(failures, len(self.backoff) - 1)]

    def _run(self) -> None:
        failures = 0
        first = True
        while not self._stop.is_set():
            if not first:
                self._post_reconnect()
            first = False
            try:
                container = self._open()
            except av.error.HTTPUnauthorizedError:
                reason = "RTSP 401 Unauthorized: the camera refused the user name or password"
                logger.warning("camera %s: %s (%s)", self.camera_id, reason, self.masked_url)
                self._post_state(CameraState.AUTH_FAILED, reason)
                # Retrying wrong credentials quickly locks the account on many cameras; go slow.
                delay = self.backoff[-1]
            except (av.error.FFmpegError, OSError) as exc:
                reason = f"cannot open stream: {self._describe(exc)}"
                logger.warning("camera %s: %s (%s)", self.camera_id, reason, self.masked_url)
                self._post_state(CameraState.OFFLINE, reason)
                delay = self._delay(failures)
                failures += 1
            else:
                got_frames, reason = self._pump(container)
                if self._stop.is_set():
                    return
                if got_frames:
                    failures = 0
                logger.warning("camera %s: stream lost: %s (%s)", self.camera_id, reason, self.masked_url)
                self._post_state(CameraState.CONNECTING, f"reconnecting: {reason}")
                delay = self._delay(failures)
                failures += 1
            if self._stop.wait(delay):
                return

    def _open(self) -> av.container.InputContainer:
        logger.info("camera %s: opening %s over %s", self.camera_id, self.masked_url, self.transport)
        options = {
            "rtsp_transport": self.transport,
            # Socket I/O timeout in microseconds (FFmpeg 5 renamed the RTSP option stimeout to timeout).
            "timeout": str(int(self.read_timeout_s * 1_000_000)),
        }
        timeouts = (self.open_timeout_s, self.read_timeout_s)
        return av.open(self._url, mode="r", options=options, timeout=timeouts)

    def _pass_on(self, packet: av.Packet[Any], stream: av.video.stream.VideoStream) -> None:
        base = stream.time_base
        seconds = float(packet.pts * base) if packet.pts is not None and base is not None else None
        self.packets.publish(bytes(packet), packet.is_keyframe, seconds)

    def _pump(self, container: av.container.InputContainer) -> tuple[bool, str]:
        """Decode until the stream ends, fails, stalls or we are stopped; returns (got frames, why)."""
        got_frames = False
        try:
            if not container.streams.video:
                return False, "the stream has no video track"
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            self.packets.opened(codec, stream.codec_context.extradata)
            # aiortc (and every browser) takes H.264 as is; other codecs are not passed through.
            passthrough = codec == "h264"
            if self.keyframes_only:
                stream.codec_context.skip_frame = "NONKEY"
            # Each connection learns the GOP afresh: a camera's encoder settings can change between them.
            gop = None if self.keyframes_only or self.analysis_interval_s is None else _GopWatch()
            self.decoding = "keyframes" if self.keyframes_only else "all"
            last_frame = time.monotonic()
            for packet in container.demux(stream):
                if self._stop.is_set():
                    return got_frames, "closed"
                if passthrough and self.packets.watched and packet.size:
                    self._pass_on(packet, stream)
                if not self.decode:
                    got_frames = got_frames or bool(packet.size)
                    last_frame = time.monotonic()
                    continue
                if gop is not None and packet.is_keyframe and packet.pts is not None and stream.time_base:
                    spacing = gop.keyframe(float(packet.pts * stream.time_base))
                    assert self.analysis_interval_s is not None
                    if spacing is not None and spacing <= self.analysis_interval_s * GOP_SLACK:
                        stream.codec_context.skip_frame = "NONKEY"
                        self.decoding = "keyframes"
                        gop = None
                        logger.info(
                            "camera %s: a keyframe every %.2f s, analysed every %.2f s: "
                            "decoding keyframes only",
                            self.camera_id,
                            spacing,
                            self.analysis_interval_s,
                        )
                try:
                    decoded = packet.decode()
                except av.error.InvalidDataError as exc:
                    # A lost RTP packet corrupts a picture or two; the next keyframe repairs it.
                    logger.debug("camera %s: undecodable packet: %s", self.camera_id, exc.strerror)
                    continue
                for frame in decoded:
                    image = cast(Image, frame.to_ndarray(format="bgr24"))
                    self._emit(image, frame.key_frame)
                    got_frames = True
                    last_frame = time.monotonic()
                if time.monotonic() - last_frame > self.stall_after_s:
                    return got_frames, f"packets but no frame for {self.stall_after_s:g} s"
            return got_frames, "the stream ended"
        except av.error.ExitError:
            return got_frames, f"no data for {self.read_timeout_s:g} s"
        except (av.error.FFmpegError, OSError) as exc:
            return got_frames, self._describe(exc)
        finally:
            container.close()
