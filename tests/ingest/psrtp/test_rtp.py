"""RTP as devices send it: headers with CSRCs, extensions and padding parse to the right payload, broken
ones are refused, and reordering, wrap-around and loss come out in sequence."""

from __future__ import annotations

import struct

import pytest

from ingest.psrtp import Reorderer, RtpPacket, parse_rtp
from ingest.psrtp.rtp import RtpError


def _packet(seq: int, payload: bytes = b"ps", *, csrc: int = 0, ext: bytes = b"", pad: int = 0) -> bytes:
    first = 0x80 | csrc | (0x10 if ext else 0) | (0x20 if pad else 0)
    head = struct.pack("!BBHII", first, 0x80 | 96, seq & 0xFFFF, 3600, 0x10000001)
    head += b"\x00\x00\x00\x07" * csrc
    if ext:
        head += struct.pack("!HH", 0xBEDE, len(ext) // 4) + ext
    tail = (b"\x00" * (pad - 1) + bytes([pad])) if pad else b""
    return head + payload + tail


def test_header_fields_and_payload() -> None:
    packet = parse_rtp(_packet(65535, b"\x00\x00\x01\xba", csrc=2, ext=b"abcdefgh", pad=3))
    assert packet == RtpPacket(96, 65535, 3600, 0x10000001, True, b"\x00\x00\x01\xba")


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x80\x60\x00", "shorter than an RTP header"),
        (b"\x40" + bytes(11), "version 1"),
        (b"\xa0\x60" + bytes(10) + b"\x00", "bad padding"),
        (b"\x90\x60" + bytes(10) + b"\x00\x00", "truncated header extension"),
    ],
)
def test_broken_packets_are_refused_with_a_reason(data: bytes, why: str) -> None:
    with pytest.raises(RtpError, match=why):
        parse_rtp(data)


def test_reordered_packets_come_out_in_sequence_across_the_wrap() -> None:
    order = Reorderer(window=4)
    out: list[bytes] = []
    for seq in (65534, 0, 65535, 2, 1, 3):
        out += order.push(parse_rtp(_packet(seq, bytes([seq & 0xFF]))))
    assert out == [bytes([s & 0xFF]) for s in (65534, 65535, 0, 1, 2, 3)]
    assert order.push(parse_rtp(_packet(1))) == [] and order.late == 1


def test_a_lost_packet_is_skipped_once_the_window_fills() -> None:
    order = Reorderer(window=2)
    out = order.push(parse_rtp(_packet(10, b"a")))
    for seq in (12, 13, 14):  # 11 never comes
        out += order.push(parse_rtp(_packet(seq, bytes([seq]))))
    assert out == [b"a", bytes([12]), bytes([13]), bytes([14])]
    assert order.lost == 1
