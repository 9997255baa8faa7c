"""A simulated GB/T 28181 channel: MPEG-PS made by ffmpeg from real video, sent as RTP the way devices
send it (PT 96, a 90 kHz timestamp per pack, packets of at most 1,400 bytes, the marker on a pack's last),
over UDP, or RFC 4571 framing over TCP, at the video's real-time pace."""

from __future__ import annotations

import asyncio
import socket
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ingest.psrtp import MediaAnswer, MediaOffer

MTU_PAYLOAD = 1400


def make_ps(video: Path, out: Path, *, start_s: float = 0, seconds: float = 10) -> Path:
    """H.264 in MPEG-2 PS, as GB/T 28181 cameras send, a keyframe every second."""
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-ss", str(start_s), "-t", str(seconds),
         "-i", str(video), "-an", "-c:v", "libx264", "-preset", "veryfast", "-g", "10", "-bf", "0",
         "-pix_fmt", "yuv420p", "-f", "vob", str(out)],
        check=True,
        timeout=120,
    )  # fmt: skip
    return out


def _scr_s(pack: bytes) -> float:
    """An MPEG-2 pack header's system clock reference, in seconds: when the pack is due."""
    b = pack[4:9]
    base = (
        ((b[0] & 0x38) << 27) | ((b[0] & 0x03) << 28) | (b[1] << 20) | ((b[2] & 0xF8) << 12)
        | ((b[2] & 0x03) << 13) | (b[3] << 5) | (b[4] >> 3)
    )  # fmt: skip
    return base / 90_000


def rtp_packets(ps: bytes, ssrc: int) -> list[tuple[float, bytes]]:
    """(seconds from start, RTP packet) for every piece of every PS pack, timed by the packs' SCR."""
    starts = [i for i in range(len(ps) - 3) if ps[i : i + 4] == b"\x00\x00\x01\xba"] or [0]
    packs = [ps[a:b] for a, b in zip(starts, [*starts[1:], len(ps)], strict=True)]
    first = _scr_s(packs[0])
    out: list[tuple[float, bytes]] = []
    sequence = 0
    for pack in packs:
        at = max(_scr_s(pack) - first, 0.0)
        timestamp = int(at * 90_000) & 0xFFFFFFFF
        pieces = [pack[i : i + MTU_PAYLOAD] for i in range(0, len(pack), MTU_PAYLOAD)]
        for n, piece in enumerate(pieces):
            marker = 0x80 if n == len(pieces) - 1 else 0
            header = struct.pack("!BBHII", 0x80, marker | 96, sequence & 0xFFFF, timestamp, ssrc)
            out.append((at, header + piece))
            sequence += 1
    return out


@dataclass
class Channel:
    """Sends one PS file to an offer until stopped, or once through (``loop=False``)."""

    ps: Path
    offer: MediaOffer
    loop: bool = True
    #: Stop sending after this many seconds (a lost stream); None: until stopped.
    fail_after_s: float | None = None
    sent: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    listener: socket.socket | None = None

    def start(self) -> None:
        if self.offer.transport == "tcp-active":
            self.listener = socket.socket()
            self.listener.bind(("127.0.0.1", 0))
            self.listener.listen(1)
            self.listener.settimeout(10)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        packets = rtp_packets(self.ps.read_bytes(), int(self.offer.ssrc))
        sock, send = self._open()
        began = time.monotonic()
        try:
            while not self._stop.is_set():
                t0 = time.monotonic()
                for at, packet in packets:
                    if self._stop.is_set():
                        return
                    if self.fail_after_s is not None and time.monotonic() - began > self.fail_after_s:
                        return
                    delay = t0 + at - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    try:
                        send(packet)
                    except OSError:
                        return
                    self.sent += 1
                if not self.loop:
                    return
        finally:
            sock.close()

    def _open(self) -> tuple[socket.socket, object]:
        target = (self.offer.ip, self.offer.port)
        if self.offer.transport == "udp":
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            return sock, lambda p: sock.sendto(p, target)
        if self.offer.transport == "tcp-passive":
            sock = socket.create_connection(target, timeout=10)
        else:
            assert self.listener is not None
            sock, _ = self.listener.accept()
            self.listener.close()
        return sock, lambda p: sock.sendall(struct.pack("!H", len(p)) + p)


@dataclass
class ChannelInviter:
    """The SIP side as the source sees it, answered by simulated channels: INVITE starts one, BYE stops it."""

    ps: Path
    fail_first_after_s: float | None = None
    offers: list[MediaOffer] = field(default_factory=list)
    byes: list[str] = field(default_factory=list)
    channels: dict[str, Channel] = field(default_factory=dict)

    async def invite(self, offer: MediaOffer) -> MediaAnswer:
        self.offers.append(offer)
        call_id = f"call-{len(self.offers)}"
        fail = self.fail_first_after_s if len(self.offers) == 1 else None
        channel = Channel(self.ps, offer, fail_after_s=fail)
        await asyncio.to_thread(channel.start)
        self.channels[call_id] = channel
        if channel.listener is not None:
            host, port = channel.listener.getsockname()
            return MediaAnswer(call_id, offer.ssrc, host, port)
        return MediaAnswer(call_id, offer.ssrc)

    async def bye(self, answer: MediaAnswer) -> None:
        self.byes.append(answer.call_id)
        await asyncio.to_thread(self.channels[answer.call_id].stop)
