"""WS-Discovery: find ONVIF devices by multicasting a Probe from one interface and reading ProbeMatches.

The probe goes out of the interface address given (the site's camera network), never on every
interface: a command-centre host often sits on several networks and must not probe the others.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from lxml import etree

logger = logging.getLogger(__name__)

MULTICAST_GROUP = "239.255.255.250"
PORT = 3702
#: Replies larger than this are not ProbeMatches; reading them would let a host flood us with garbage.
MAX_DATAGRAM = 65_507

NS = {
    "soap": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "wsd": "http://schemas.xmlsoap.org/ws/2005/04/discovery",
    "dn": "http://www.onvif.org/ver10/network/wsdl",
}

_PROBE = """<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="{soap}" xmlns:wsa="{wsa}" xmlns:wsd="{wsd}" xmlns:dn="{dn}">
<soap:Header><wsa:MessageID>urn:uuid:{message_id}</wsa:MessageID>
<wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>
<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action></soap:Header>
<soap:Body><wsd:Probe><wsd:Types>dn:NetworkVideoTransmitter</wsd:Types></wsd:Probe></soap:Body>
</soap:Envelope>"""


@dataclass(frozen=True, slots=True)
class DiscoveredDevice:
    endpoint: str
    xaddrs: tuple[str, ...]
    scopes: tuple[str, ...]
    types: tuple[str, ...]

    @property
    def hosts(self) -> tuple[tuple[str, int], ...]:
        """(host, port) of each device service address."""
        found: list[tuple[str, int]] = []
        for xaddr in self.xaddrs:
            try:
                parts = urlsplit(xaddr)
                port = parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError:
                continue
            if parts.hostname:
                found.append((parts.hostname, port))
        return tuple(found)

    def scope(self, kind: str) -> str | None:
        """A decoded onvif://www.onvif.org/<kind>/<value> scope, e.g. kind 'name' or 'hardware'."""
        prefix = f"onvif://www.onvif.org/{kind}/"
        for scope in self.scopes:
            if scope.startswith(prefix):
                return unquote(scope.removeprefix(prefix))
        return None


def probe_message(message_id: uuid.UUID | None = None) -> bytes:
    return _PROBE.format(**NS, message_id=message_id or uuid.uuid4()).encode()


def _parser() -> etree.XMLParser:
    # Datagrams come from anybody on the segment: no entities, no DTDs, no network lookups.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def parse_probe_matches(data: bytes) -> list[DiscoveredDevice]:
    """Devices in one ProbeMatches datagram; malformed input gives [] (logged at debug)."""
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        logger.debug("ws-discovery: ignoring a datagram that is not XML: %s", exc)
        return []
    devices: list[DiscoveredDevice] = []
    for match in root.iterfind(".//wsd:ProbeMatches/wsd:ProbeMatch", NS):
        endpoint = match.findtext("wsa:EndpointReference/wsa:Address", default="", namespaces=NS).strip()
        xaddrs = tuple(match.findtext("wsd:XAddrs", default="", namespaces=NS).split())
        scopes = tuple(match.findtext("wsd:Scopes", default="", namespaces=NS).split())
        types = tuple(match.findtext("wsd:Types", default="", namespaces=NS).split())
        if xaddrs:
            devices.append(DiscoveredDevice(endpoint, xaddrs, scopes, types))
    return devices


class _Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.devices: dict[str, DiscoveredDevice] = {}

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if len(data) > MAX_DATAGRAM:
            return
        for device in parse_probe_matches(data):
            self.devices.setdefault(device.endpoint or device.xaddrs[0], device)


async def discover(interface_ip: str, *, timeout_s: float = 3.0, repeats: int = 2) -> list[DiscoveredDevice]:
    """Multicast a Probe out of interface_ip and collect the answers for timeout_s.

    UDP is lossy and cameras answer after a random delay (up to 500 ms by the spec), so the probe is
    sent ``repeats`` times and answers are collected until the timeout.
    """
    ipaddress.IPv4Address(interface_ip)  # ValueError for anything but one local IPv4 address
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface_ip))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)  # stay on the camera segment
    sock.bind((interface_ip, 0))
    transport, collector = await loop.create_datagram_endpoint(_Collector, sock=sock)
    try:
        message = probe_message()
        for _ in range(repeats):
            transport.sendto(message, (MULTICAST_GROUP, PORT))
            await asyncio.sleep(timeout_s / repeats)
    finally:
        transport.close()
    return sorted(collector.devices.values(), key=lambda d: d.xaddrs)


def in_subnets(devices: Sequence[DiscoveredDevice], subnets: Sequence[ipaddress.IPv4Network]) -> list[str]:
    """Host addresses of the devices that lie in subnets (answers from elsewhere are ignored)."""
    hosts: list[str] = []
    for device in devices:
        for host, _ in device.hosts:
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                continue
            if any(address in net for net in subnets) and host not in hosts:
                hosts.append(host)
    return hosts
