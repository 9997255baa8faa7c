"""A GB/T 28181 channel as a frame source: INVITE for real-time play, PS over RTP in, frames out, BYE.

The SIP dialogue belongs to the GB/T 28181 module and reaches this source only through ``MediaInviter``
(invite with our port and transport, bye with what the answer said), so this file knows RTP and MPEG-PS,
not SIP. The worker thread receives RTP itself (UDP, or RFC 4571 framing over TCP, passive or active),
puts the payloads back in order and hands the PS bytes to FFmpeg's MPEG-PS demuxer through a file-like
reader; a stream that goes silent is torn down with BYE and invited again, with capped backoff.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import struct
import threading
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

import av
import av.container
import av.error

from ingest.frames import Image
from ingest.health import CameraState
from ingest.packets import PacketFanout
from ingest.psrtp.rtp import Reorderer, RtpError, parse_rtp
from ingest.sources.threaded import ThreadedSource
from models.clock import Clock

logger = logging.getLogger(__name__)

T = TypeVar("T")
TRANSPORTS = ("udp", "tcp-passive", "tcp-active")
DEFAULT_BACKOFF_S: tuple[float, ...] = (1, 2, 4, 8, 15)
#: How often blocking socket calls wake to look at the stop flag.
_POLL_S = 0.25
#: FFmpeg probes this much PS before the first frame: enough to find the video stream, small enough
#: that a live channel's first frame is not seconds late.
_PROBE = {"probesize": "262144", "analyzeduration": "2000000"}


@dataclass(frozen=True, slots=True)
class MediaOffer:
    """What an INVITE offers the channel: where to send, over what, under which SSRC."""

    camera_id: str
    channel_id: str
    ip: str
    port: int
    #: udp; tcp-passive: we listen and the device connects; tcp-active: we connect to the device.
    transport: str
    ssrc: str


@dataclass(frozen=True, slots=True)
class MediaAnswer:
    """What the device answered: the dialogue to end with BYE and, for tcp-active, where to connect."""

    call_id: str
    ssrc: str | None = None
    remote_ip: str | None = None
    remote_port: int | None = None


class MediaInviter(Protocol):
    async def invite(self, offer: MediaOffer) -> MediaAnswer: ...

    async def bye(self, answer: MediaAnswer) -> None: ...


class PortRange:
    """The media ports a site opens in its firewall; each stream binds the first free one."""

    def __init__(self, first: int, last: int, host: str = "0.0.0.0") -> None:
        if not 0 < first <= last < 65536:
            raise ValueError(f"bad media port range {first}-{last}")
        self.first, self.last, self.host = first, last, host
        self._lock = threading.Lock()
        self._next = first

    def bind(self, transport: str) -> socket.socket:
        """A socket bound to a free port of the range: UDP, or TCP listening for tcp-passive."""
        kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
        with self._lock:
            size = self.last - self.first + 1
            for _ in range(size):
                port = self._next
                self._next = self.first if port >= self.last else port + 1
                sock = socket.socket(socket.AF_INET, kind)
                try:
                    sock.bind((self.host, port))
                except OSError:
                    sock.close()
                    continue
                if transport == "tcp-passive":
                    sock.listen(1)
                if transport == "udp":
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
                sock.settimeout(_POLL_S)
                return sock
        raise OSError(f"no free media port in {self.first}-{self.last}")


class _SsrcCounter:
    def __init__(self) -> None:
        self._count = itertools.count(1)

    def real_time(self, channel_id: str) -> str:
        # GB/T 28181 SSRC: 0 for real-time play, the domain's 5 digits (id digits 4–8), a 4-digit sequence.
        return f"0{channel_id[3:8]:0>5}{next(self._count) % 10000:04d}"


_SSRC = _SsrcCounter()


class _RtpReader:
    """The file FFmpeg reads: RTP payloads in order, from a UDP or TCP socket; b"" ends the stream."""

    def __init__(self, sock: socket.socket, stop: threading.Event, read_timeout_s: float) -> None:
        self._sock = sock
        self._stop = stop
        self._timeout_s = read_timeout_s
        self._buffer = bytearray()
        self._order = Reorderer()
        self._tcp = sock.type == socket.SOCK_STREAM
        self._last = time.monotonic()
        self.reason = "the stream ended"
        self.packets = 0
        self.malformed = 0

    def read(self, size: int) -> bytes:
        while not self._buffer:
            if self._stop.is_set():
                self.reason = "closed"
                return b""
            data = self._receive()
            if data is None:
                if time.monotonic() - self._last > self._timeout_s:
                    self.reason = f"no RTP for {self._timeout_s:g} s"
                    return b""
                continue
            if data == b"":
                self.reason = "the sender closed the connection"
                return b""
            self._last = time.monotonic()
            try:
                packet = parse_rtp(data)
            except RtpError:
                self.malformed += 1
                continue
            self.packets += 1
            for payload in self._order.push(packet):
                self._buffer += payload
        chunk = bytes(self._buffer[:size])
        del self._buffer[:size]
        return chunk

    def _receive(self) -> bytes | None:
        try:
            if not self._tcp:
                return self._sock.recv(65536)
            # RFC 4571: each packet preceded by its 16-bit length.
            head = self._exactly(2)
            if not head:
                return head
            return self._exactly(struct.unpack("!H", head)[0])
        except TimeoutError:
            return None

    def _exactly(self, size: int) -> bytes:
        out = bytearray()
        while len(out) < size:
            try:
                part = self._sock.recv(size - len(out))
            except TimeoutError:
                if self._stop.is_set() or time.monotonic() - self._last > self._timeout_s:
                    raise
                continue
            if not part:
                return b""
            out += part
        return bytes(out)


class PsRtpSource(ThreadedSource):
    """Frames of one GB/T 28181 channel, played in real time; one INVITE per connection, BYE on stop."""

    def __init__(
        self,
        camera_id: str,
        channel_id: str,
        clock: Clock,
        inviter: MediaInviter,
        ports: PortRange,
        *,
        transport: str = "udp",
        media_ip: str = "127.0.0.1",
        open_timeout_s: float = 10,
        read_timeout_s: float = 5,
        backoff: Sequence[float] = DEFAULT_BACKOFF_S,
        queue_size: int = 2,
    ) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(
                f"camera {camera_id}: media transport must be one of {TRANSPORTS}, got {transport!r}"
            )
        super().__init__(camera_id, clock, queue_size=queue_size, stall_after_s=read_timeout_s)
        self.channel_id = channel_id
        self.transport = transport
        self.media_ip = media_ip
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.backoff = tuple(backoff)
        self._inviter = inviter
        self._ports = ports
        self.packets = PacketFanout(camera_id)
        #: Connections made (INVITEs answered) so far: a re-INVITE after loss makes it 2, 3, …
        self.sessions = 0
        self.port: int | None = None

    def __repr__(self) -> str:
        return f"PsRtpSource({self.camera_id!r}, channel {self.channel_id})"

    def start(self) -> None:
        if self._thread is None and not self._stop.is_set():
            self.packets.bind(asyncio.get_running_loop())
        super().start()

    async def aclose(self) -> None:
        await super().aclose()
        self.packets.end()

    def _call(self, work: Coroutine[Any, Any, T], timeout_s: float) -> T:
        loop = self._loop
        if loop is None:
            work.close()
            raise RuntimeError("not started")
        return asyncio.run_coroutine_threadsafe(work, loop).result(timeout_s)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            got_frames, reason = self._session()
            if self._stop.is_set():
                return
            failures = 0 if got_frames else failures + 1
            logger.warning(
                "camera %s: channel %s lost: %s; inviting again", self.camera_id, self.channel_id, reason
            )
            self._post_state(CameraState.CONNECTING, f"re-INVITE: {reason}")
            self._post_reconnect()
            if self._stop.wait(self.backoff[min(failures, len(self.backoff) - 1)]):
                return

    def _session(self) -> tuple[bool, str]:
        try:
            sock = self._ports.bind(self.transport)
        except OSError as exc:
            self._post_state(CameraState.OFFLINE, str(exc))
            return False, str(exc)
        self.port = sock.getsockname()[1]
        offer = MediaOffer(
            self.camera_id,
            self.channel_id,
            self.media_ip,
            self.port,
            self.transport,
            _SSRC.real_time(self.channel_id),
        )
        try:
            answer = self._call(self._inviter.invite(offer), self.open_timeout_s)
        except Exception as exc:  # the SIP side's refusal, timeout or a dead platform: retried alike
            sock.close()
            reason = f"INVITE failed: {type(exc).__name__}: {exc}"
            self._post_state(CameraState.OFFLINE, reason)
            return False, reason
        self.sessions += 1
        try:
            stream = self._connect(sock, answer)
            reader = _RtpReader(stream, self._stop, self.read_timeout_s)
            try:
                container = av.open(cast(Any, reader), mode="r", format="mpeg", options=_PROBE)
            except (av.error.FFmpegError, OSError) as exc:
                return False, f"cannot demux PS: {type(exc).__name__}: {exc}"
            got_frames, reason = self._pump(container)
            return got_frames, reader.reason if reason == "the stream ended" else reason
        except OSError as exc:
            return False, f"{type(exc).__name__}: {exc}"
        finally:
            sock.close()
            try:
                self._call(self._inviter.bye(answer), self.open_timeout_s)
            except Exception as exc:  # the device may be gone already; the dialogue ends either way
                logger.info("camera %s: BYE not answered: %s", self.camera_id, exc)

    def _connect(self, sock: socket.socket, answer: MediaAnswer) -> socket.socket:
        if self.transport == "udp":
            return sock
        if self.transport == "tcp-passive":
            deadline = time.monotonic() + self.read_timeout_s
            while not self._stop.is_set():
                try:
                    conn, _ = sock.accept()
                except TimeoutError:
                    if time.monotonic() > deadline:
                        raise OSError(
                            f"the device did not connect within {self.read_timeout_s:g} s"
                        ) from None
                    continue
                sock.close()
                conn.settimeout(_POLL_S)
                return conn
            raise OSError("closed")
        if answer.remote_ip is None or answer.remote_port is None:
            raise OSError("tcp-active needs the device's address in its answer")
        sock.close()
        conn = socket.create_connection((answer.remote_ip, answer.remote_port), timeout=self.open_timeout_s)
        conn.settimeout(_POLL_S)
        return conn

    def _pump(self, container: av.container.InputContainer) -> tuple[bool, str]:
        got_frames = False
        try:
            if not container.streams.video:
                return False, "the PS stream has no video"
            stream = container.streams.video[0]
            self.packets.opened(stream.codec_context.name, stream.codec_context.extradata)
            passthrough = stream.codec_context.name == "h264"
            base = stream.time_base
            for packet in container.demux(stream):
                if self._stop.is_set():
                    return got_frames, "closed"
                if passthrough and self.packets.watched and packet.size:
                    seconds = (
                        float(packet.pts * base) if packet.pts is not None and base is not None else None
                    )
                    self.packets.publish(bytes(packet), packet.is_keyframe, seconds)
                try:
                    decoded = packet.decode()
                except av.error.InvalidDataError:
                    continue  # a lost RTP packet spoils a picture or two; the next keyframe repairs it
                for frame in decoded:
                    self._emit(cast(Image, frame.to_ndarray(format="bgr24")), frame.key_frame)
                    got_frames = True
            return got_frames, "the stream ended"
        except (av.error.FFmpegError, OSError) as exc:
            return got_frames, f"{type(exc).__name__}: {exc}"
        finally:
            container.close()
