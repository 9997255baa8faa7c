"""Live video from a GB/T 28181 channel: MPEG-PS over RTP (UDP, TCP passive or active) into the same frame
source port the detector uses. The SIP side (INVITE, BYE) is behind ``MediaInviter``."""

from ingest.psrtp.rtp import Reorderer, RtpPacket, parse_rtp
from ingest.psrtp.source import MediaAnswer, MediaInviter, MediaOffer, PortRange, PsRtpSource

__all__ = [
    "MediaAnswer",
    "MediaInviter",
    "MediaOffer",
    "PortRange",
    "PsRtpSource",
    "Reorderer",
    "RtpPacket",
    "parse_rtp",
]
