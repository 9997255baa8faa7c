"""WS-Discovery parsing, from ProbeMatches recorded off real cameras (no multicast in tests)."""

from __future__ import annotations

import ipaddress

from ingest.onvif.discovery import in_subnets, parse_probe_matches, probe_message

#: A Hikvision DS-2CD2xx answer, trimmed of its long scope list.
HIKVISION = b"""<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"
 xmlns:wsadis="http://schemas.xmlsoap.org/ws/2004/08/addressing"
 xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"
 xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
<env:Header><wsadis:MessageID>urn:uuid:3a4b1c2d-0000-0000-0000-bcbac1d2e3f4</wsadis:MessageID>
<wsadis:RelatesTo>urn:uuid:0d0c0b0a-1111-2222-3333-444455556666</wsadis:RelatesTo>
<wsadis:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsadis:To>
<wsadis:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsadis:Action></env:Header>
<env:Body><d:ProbeMatches><d:ProbeMatch>
<wsadis:EndpointReference><wsadis:Address>urn:uuid:3a4b1c2d-0000-0000-0000-bcbac1d2e3f4</wsadis:Address>
</wsadis:EndpointReference>
<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>
<d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/Profile/Streaming
 onvif://www.onvif.org/hardware/DS-2CD2143G2-I onvif://www.onvif.org/name/HIKVISION%20DS-2CD2143G2-I
 onvif://www.onvif.org/location/city/hangzhou</d:Scopes>
<d:XAddrs>http://192.168.10.64/onvif/device_service http://[fe80::4219:20ff:fe5b:1a2b]/onvif/device_service</d:XAddrs>
<d:MetadataVersion>10</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></env:Body></env:Envelope>"""

#: A Dahua answer on a non-default port.
DAHUA = b"""<?xml version="1.0" encoding="utf-8" standalone="yes" ?>
<s:Envelope xmlns:sc="http://www.w3.org/2003/05/soap-encoding" xmlns:s="http://www.w3.org/2003/05/soap-envelope"
 xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"
 xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing">
<s:Header><a:MessageID>urn:uuid:cc1f0a2e-1dd2-11b2-a105-f0f0f0f0f0f0</a:MessageID>
<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</a:Action></s:Header>
<s:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference>
<a:Address>uuid:cc1f0a2e-1dd2-11b2-a105-e0508b112233</a:Address></a:EndpointReference>
<d:Types>dn:NetworkVideoTransmitter</d:Types>
<d:Scopes>onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/name/IPC-HFW2431S</d:Scopes>
<d:XAddrs>http://10.20.0.7:8080/onvif/device_service</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion>
</d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>"""


def test_parses_recorded_probe_matches() -> None:
    [hik] = parse_probe_matches(HIKVISION)
    assert hik.endpoint == "urn:uuid:3a4b1c2d-0000-0000-0000-bcbac1d2e3f4"
    assert hik.hosts == (("192.168.10.64", 80), ("fe80::4219:20ff:fe5b:1a2b", 80))
    assert hik.scope("name") == "HIKVISION DS-2CD2143G2-I"
    assert hik.scope("hardware") == "DS-2CD2143G2-I"
    assert "dn:NetworkVideoTransmitter" in hik.types
    [dahua] = parse_probe_matches(DAHUA)
    assert dahua.hosts == (("10.20.0.7", 8080),)


def test_answers_from_outside_the_camera_subnets_are_dropped() -> None:
    devices = parse_probe_matches(HIKVISION) + parse_probe_matches(DAHUA)
    assert in_subnets(devices, [ipaddress.IPv4Network("192.168.10.0/24")]) == ["192.168.10.64"]


def test_garbage_and_hostile_xml_give_nothing() -> None:
    assert parse_probe_matches(b"not xml at all") == []
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    assert parse_probe_matches(bomb) == []


def test_probe_asks_for_video_transmitters() -> None:
    assert b"dn:NetworkVideoTransmitter" in probe_message()
