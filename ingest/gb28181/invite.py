"""Real-time play of a channel (GB/T 28181 §9.2): INVITE with our SDP, ACK, and BYE on stop.

``ChannelInviter`` is the SIP half of ingest/psrtp's ``MediaInviter``: the source picks a port and a
transport, this offers them to the channel's device in the standard's SDP (``s=Play``, PS on payload type
96, ``y=`` the SSRC, ``a=setup`` for TCP), and reads back where a device that is TCP-passive listens.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from ingest.gb28181.sip import SipMessage, new_tag
from ingest.gb28181.transport import Peer, SipEndpoint
from ingest.psrtp import MediaAnswer, MediaOffer

logger = logging.getLogger(__name__)

#: A channel id → (its device's id, where that device is reached), or None when no device lists it.
PeerOf = Callable[[str], tuple[str, Peer] | None]
#: How long a device may take to answer an INVITE (it must open its encoder first).
INVITE_TIMEOUT_S = 8.0


class InviteRefused(RuntimeError):
    """The device answered the INVITE with an error, or its SDP cannot be used."""


def play_sdp(platform_id: str, offer: MediaOffer) -> bytes:
    """The SDP of an INVITE for real-time play, as GB/T 28181 Annex F writes it."""
    tcp = offer.transport != "udp"
    lines = [
        "v=0",
        f"o={platform_id} 0 0 IN IP4 {offer.ip}",
        "s=Play",
        f"c=IN IP4 {offer.ip}",
        "t=0 0",
        f"m=video {offer.port} {'TCP/RTP/AVP' if tcp else 'RTP/AVP'} 96 98 97",
        "a=recvonly",
        "a=rtpmap:96 PS/90000",
        "a=rtpmap:98 H264/90000",
        "a=rtpmap:97 MPEG4/90000",
    ]
    if tcp:
        # Our role: passive (we listen, the device connects) or active (we connect to the device).
        lines += [
            f"a=setup:{'passive' if offer.transport == 'tcp-passive' else 'active'}",
            "a=connection:new",
        ]
    lines.append(f"y={offer.ssrc}")
    return ("\r\n".join(lines) + "\r\n").encode()


@dataclass(frozen=True, slots=True)
class PlaySdp:
    ip: str | None
    port: int | None
    ssrc: str | None


def read_sdp(body: bytes) -> PlaySdp:
    ip = port = ssrc = None
    for raw in body.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if line.startswith("c=IN IP4 "):
            ip = line.split()[-1]
        elif line.startswith("m=video "):
            parts = line.split()
            if len(parts) > 1 and parts[1].isdigit():
                port = int(parts[1])
        elif line.startswith("y="):
            ssrc = line[2:].strip()
    return PlaySdp(ip, port, ssrc)


@dataclass
class _Dialog:
    request_uri: str
    peer: Peer
    call_id: str
    from_header: str
    to_header: str
    cseq: int


class ChannelInviter:
    """Plays channels of the devices registered with ``endpoint``'s platform; ``peer_of`` finds the device
    of a channel (the one whose catalog listed it) and how to reach it."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        platform_id: str,
        domain: str,
        peer_of: PeerOf,
    ) -> None:
        self._endpoint = endpoint
        self._platform_id = platform_id
        self._domain = domain
        self._peer_of = peer_of
        self._cseq = itertools.count(1)
        self._dialogs: dict[str, _Dialog] = {}

    @property
    def playing(self) -> int:
        return len(self._dialogs)

    async def invite(self, offer: MediaOffer) -> MediaAnswer:
        found = self._peer_of(offer.channel_id)
        if found is None:
            raise InviteRefused(f"no registered device lists channel {offer.channel_id}")
        device_id, peer = found
        call_id = f"{new_tag()}{new_tag()}@{self._endpoint.advertise}"
        cseq = next(self._cseq)
        request = SipMessage(method="INVITE", uri=f"sip:{offer.channel_id}@{peer.host}:{peer.port}")
        from_header = f"<sip:{self._platform_id}@{self._domain}>;tag={new_tag()}"
        request.add("from", from_header)
        request.add("to", f"<sip:{offer.channel_id}@{self._domain}>")
        request.add("call-id", call_id)
        request.add("cseq", f"{cseq} INVITE")
        request.add("contact", f"<sip:{self._platform_id}@{self._endpoint.advertise}:{self._endpoint.port}>")
        request.add("subject", f"{offer.channel_id}:{offer.ssrc},{self._platform_id}:0")
        request.add("content-type", "APPLICATION/SDP")
        request.body = play_sdp(self._platform_id, offer)
        answer = await self._endpoint.request(request, peer, timeout_s=INVITE_TIMEOUT_S)
        if answer.status >= 300:
            raise InviteRefused(f"device {device_id} answered the INVITE {answer.status} {answer.reason}")
        to_header = answer.header("to") or request.header("to") or ""
        dialog = _Dialog(request.uri, peer, call_id, from_header, to_header, cseq)
        self._ack(dialog)
        self._dialogs[call_id] = dialog
        sdp = read_sdp(answer.body)
        logger.info("gb28181: playing channel %s of %s (%s)", offer.channel_id, device_id, offer.transport)
        if offer.transport == "tcp-active" and (sdp.ip is None or sdp.port is None):
            await self.bye(MediaAnswer(call_id))
            raise InviteRefused(f"device {device_id} answered tcp-active without its address and port")
        return MediaAnswer(call_id, sdp.ssrc, sdp.ip, sdp.port)

    def _ack(self, dialog: _Dialog) -> None:
        ack = SipMessage(method="ACK", uri=dialog.request_uri)
        ack.add("via", self._endpoint.via(dialog.peer.transport))
        ack.add("max-forwards", "70")
        ack.add("from", dialog.from_header)
        ack.add("to", dialog.to_header)
        ack.add("call-id", dialog.call_id)
        ack.add("cseq", f"{dialog.cseq} ACK")
        self._endpoint.send(ack, dialog.peer)

    async def bye(self, answer: MediaAnswer) -> None:
        dialog = self._dialogs.pop(answer.call_id, None)
        if dialog is None:
            return
        dialog.cseq += 1
        request = SipMessage(method="BYE", uri=dialog.request_uri)
        request.add("from", dialog.from_header)
        request.add("to", dialog.to_header)
        request.add("call-id", dialog.call_id)
        request.add("cseq", f"{dialog.cseq} BYE")
        reply = await self._endpoint.request(request, dialog.peer, timeout_s=INVITE_TIMEOUT_S)
        if reply.status >= 300:
            logger.info("gb28181: BYE of %s answered %d", dialog.call_id, reply.status)

    async def aclose(self) -> None:
        for call_id in list(self._dialogs):
            try:
                await self.bye(MediaAnswer(call_id))
            except (TimeoutError, OSError) as exc:
                logger.info("gb28181: BYE of %s not answered: %s", call_id, exc)
