"""A GB/T 28181 channel's media, as a process SIPp starts when it answers an INVITE:
``python send.py PSFILE HOST PORT SSRC``. Sends the PS file as RTP over UDP, looping, until the receiver's
port is closed (the platform's BYE closed it: the next send is refused) or 60 s have passed."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.ingest.psrtp.channel import rtp_packets


def main(ps: Path, host: str, port: int, ssrc: int, limit_s: float = 60.0) -> int:
    packets = rtp_packets(ps.read_bytes(), ssrc)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((host, port))  # connected: a closed port answers the next send with a refusal
    began = time.monotonic()
    sent = 0
    while time.monotonic() - began < limit_s:
        t0 = time.monotonic()
        for at, packet in packets:
            delay = t0 + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                sock.send(packet)
            except OSError:
                return 0
            sent += 1
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
