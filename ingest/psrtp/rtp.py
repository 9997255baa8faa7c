"""RTP (RFC 3550) as GB/T 28181 devices send it: one header per packet, PS bytes as payload, and a small
reorder window, since UDP on a video private network reorders and drops."""

from __future__ import annotations

import struct
from dataclasses import dataclass

#: Payload types devices use for PS: 96 (dynamic, the standard's choice) and some send 98 or 100.
HEADER = struct.Struct("!BBHII")


class RtpError(ValueError):
    """Not an RTP packet: too short, wrong version, or lengths that do not add up."""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    marker: bool
    payload: bytes


def parse_rtp(data: bytes) -> RtpPacket:
    if len(data) < HEADER.size:
        raise RtpError(f"{len(data)} bytes is shorter than an RTP header")
    first, second, sequence, timestamp, ssrc = HEADER.unpack_from(data)
    if first >> 6 != 2:
        raise RtpError(f"RTP version {first >> 6}, expected 2")
    offset = HEADER.size + 4 * (first & 0x0F)  # CSRC list
    if first & 0x10:  # header extension: 16-bit profile, 16-bit length in 32-bit words
        if len(data) < offset + 4:
            raise RtpError("truncated header extension")
        (words,) = struct.unpack_from("!H", data, offset + 2)
        offset += 4 + 4 * words
    end = len(data)
    if first & 0x20:  # padding: the last byte says how much
        if end == 0 or data[-1] == 0 or data[-1] > end - offset:
            raise RtpError("bad padding")
        end -= data[-1]
    if offset > end:
        raise RtpError("header longer than the packet")
    return RtpPacket(second & 0x7F, sequence, timestamp, ssrc, bool(second & 0x80), data[offset:end])


class Reorderer:
    """Packets in sequence order; a gap is waited for up to ``window`` later packets, then skipped (lost).

    Sequence numbers are 16 bits and wrap; distances are taken modulo 2**16 around the next expected one.
    """

    def __init__(self, window: int = 32) -> None:
        self.window = window
        self._next: int | None = None
        self._held: dict[int, bytes] = {}
        self.lost = 0
        self.late = 0

    def push(self, packet: RtpPacket) -> list[bytes]:
        """Payloads now deliverable in order (possibly none, possibly several)."""
        if self._next is None:
            self._next = packet.sequence
        ahead = (packet.sequence - self._next) & 0xFFFF
        if ahead >= 0x8000:  # behind what was already delivered or skipped
            self.late += 1
            return []
        self._held[packet.sequence] = packet.payload
        out: list[bytes] = []
        while True:
            payload = self._held.pop(self._next, None)
            if payload is not None:
                out.append(payload)
                self._next = (self._next + 1) & 0xFFFF
                continue
            if len(self._held) <= self.window:
                return out
            # Waited long enough for the gap: skip to the oldest held packet.
            nearest = min(self._held, key=lambda s: (s - self._next) & 0xFFFF)  # type: ignore[operator]
            self.lost += (nearest - self._next) & 0xFFFF
            self._next = nearest
