"""SIP and MANSCDP messages: captures from real devices parse, what gridwatch writes reads back, and every
malformed message is a SipError with the status its sender gets."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ingest.gb28181 import digest, manscdp, sip
from ingest.gb28181.sip import SipError

CAPTURES = Path(__file__).parent / "captures"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def capture(name: str) -> sip.SipMessage:
    return sip.parse((CAPTURES / name).read_bytes())


def test_captured_register_with_digest_and_response_parse() -> None:
    register = capture("cmcc-register-digest.sip")
    assert register.method == "REGISTER" and register.cseq == (2, "REGISTER")
    assert sip.uri_user(register.header("from") or "") == "35010201081320000127"
    assert register.header("expires") == "3600" and register.branch == "z9hG4bK1471116192"
    params = digest.parse_params(register.header("authorization") or "")
    assert params["username"] == "35010201081320000127" and params["realm"] == "172.21.66.8:15566"
    assert params["qop"] == "auth" and params["nc"] == "00000001" and params["cnonce"] == "0a4f113b"
    assert params["uri"] == "sip:35000000002000000000@183.252.194.84:15566"

    ok = capture("tcp-200-ok.sip")
    assert not ok.is_request and ok.status == 200 and ok.cseq == (25, "MESSAGE")
    assert sip.param(ok.header("to") or "", "tag") == "1617269133086"
    # Headers in any order (Dahua writes them alphabetically): the same message.
    dahua = capture("dahua-register.sip")
    assert dahua.header("call-id") == "b954e1e87c6d580eaec2c2755aba3e54"
    assert sip.uri_user(dahua.header("from") or "") == "34020000001180000001"


def test_captured_gb2312_catalog_page_keepalive_and_alarm() -> None:
    page_message = capture("dahua-catalog-page.sip")
    doc = manscdp.read(page_message.header("content-type"), page_message.body)
    page = manscdp.catalog_page(doc)
    assert (page.device_id, page.sn, page.sum_num) == ("34020000001180000001", 4, 4)
    [item] = page.items
    assert item.id == "34020000001310000004" and item.name == "1.64 海康摄像机"
    assert item.parent_id == "34020000001180000001" and item.longitude is None and item.status == "ON"

    keep = capture("dahua-keepalive.sip")
    assert manscdp.read(keep.header("content-type"), keep.body).cmd_type == "Keepalive"

    alarm_message = capture("dahua-alarm.sip")
    alarm = manscdp.alarm(manscdp.read(alarm_message.header("content-type"), alarm_message.body), SHANGHAI)
    assert (alarm.priority, alarm.method, alarm.type) == (1, 5, 2)
    assert alarm.description == "视频动检"
    assert alarm.at == datetime(2023, 8, 9, 7, 38, 35, tzinfo=SHANGHAI)


def test_rfc2617_digest_and_nonces() -> None:
    # RFC 2617 §3.5's worked example.
    assert (
        digest.answer(
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            qop="auth",
            nc="00000001",
            cnonce="0a4f113b",
        )
        == "6629fae49393a05397450978507c4ef1"
    )
    nonces = digest.Nonces(b"k" * 32, ttl_s=60)
    nonce = nonces.issue(now=1000)
    assert nonces.fresh(nonce, now=1030) and not nonces.fresh(nonce, now=1061)
    assert not digest.Nonces(b"x" * 32).fresh(nonce, now=1030)
    params = digest.parse_params(
        digest.authorization(
            digest.parse_params(nonces.challenge("3402000000")),
            "34020000001320000001",
            "s3cret",
            "REGISTER",
            "sip:34020000002000000001@3402000000",
        )
    )
    assert digest.verify(params, "s3cret", "REGISTER") and not digest.verify(params, "wrong", "REGISTER")


def test_what_gridwatch_writes_reads_back() -> None:
    at = datetime(2026, 12, 5, 12, 0, 1, tzinfo=SHANGHAI)
    body = manscdp.alarm_notify(
        7,
        "34020000001310000001",
        priority=2,
        method=5,
        type_=10,
        at=at,
        description="crowd 网格A",
        longitude=118.1,
        latitude=24.5,
        alarm_id="x",
    )
    alarm = manscdp.alarm(manscdp.read(manscdp.CONTENT_TYPE, body), SHANGHAI)
    assert (alarm.sn, alarm.priority, alarm.method, alarm.type, alarm.at) == (7, 2, 5, 10, at)
    assert alarm.description == "crowd 网格A" and (alarm.longitude, alarm.latitude) == (118.1, 24.5)
    assert b'encoding="GB2312"' in body and "网格".encode("gb2312") in body

    message = sip.SipMessage(method="MESSAGE", uri="sip:34020000002000000001@3402000000")
    compact = [
        ("v", "SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKa"),
        ("f", "<sip:a@b>;tag=1"),
        ("t", "<sip:c@d>"),
        ("i", "id1"),
        ("CSeq", "3 MESSAGE"),
        ("c", manscdp.CONTENT_TYPE),
    ]
    for name, value in compact:
        message.add(name, value)
    message.body = body
    again = sip.parse(message.serialise())
    assert again.headers[:6] == message.headers[:6] and again.body == body
    assert again.header("Content-Type") == manscdp.CONTENT_TYPE and again.header("via") is not None
    answer = sip.parse(sip.response(again, 200).serialise())
    assert (
        answer.status == 200
        and answer.header("call-id") == "id1"
        and sip.param(answer.header("to") or "", "tag")
    )


REQUEST = (
    b"MESSAGE sip:34020000002000000001@3402000000 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb\r\n"
    b"From: <sip:34020000001320000001@3402000000>;tag=9\r\nTo: <sip:34020000002000000001@3402000000>\r\n"
    b"Call-ID: c1\r\nCSeq: 1 MESSAGE\r\n"
)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"", 400),
        (b"HELLO\r\n\r\n", 400),
        (b"MESSAGE sip:x SIP/3.0\r\n\r\n", 505),
        (b"SIP/2.0 9999 What\r\n\r\n", 400),
        (REQUEST.replace(b"Call-ID: c1\r\n", b"") + b"\r\n", 400),
        (REQUEST.replace(b"1 MESSAGE", b"1 INVITE") + b"\r\n", 400),
        (REQUEST + b"Content-Length: ten\r\n\r\n", 400),
        (REQUEST + b"Content-Length: 99\r\n\r\nshort", 400),
        (REQUEST + b"Content-Length: 100000\r\n\r\n" + b"x" * 100000, 413),
        (REQUEST + b"Bad Header Line\r\n\r\n", 400),
        (REQUEST + b"X-Name: \xff\xfe\r\n\r\n", 400),
    ],
)
def test_malformed_messages_are_sip_errors(data: bytes, status: int) -> None:
    with pytest.raises(SipError) as caught:
        sip.parse(data)
    assert caught.value.status == status


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/sdp", b"v=0", 415),
        (manscdp.CONTENT_TYPE, b'<?xml version="1.0" encoding="UTF-16"?><Notify/>', 415),
        (manscdp.CONTENT_TYPE, b"<Notify><CmdType>Keepalive</CmdType>", 400),
        (
            manscdp.CONTENT_TYPE,
            b"<Notify><CmdType>Keepalive</CmdType><SN>x</SN><DeviceID>1</DeviceID></Notify>",
            400,
        ),
        (manscdp.CONTENT_TYPE, b'<!DOCTYPE r [<!ENTITY a "aaaa">]><Notify>&a;</Notify>', 400),
        (manscdp.CONTENT_TYPE, b"\x81\xff\xfe<Notify/>", 400),
    ],
)
def test_bad_bodies_are_sip_errors(content_type: str, body: bytes, status: int) -> None:
    with pytest.raises(SipError) as caught:
        manscdp.read(content_type, body)
    assert caught.value.status == status


def test_utf8_under_a_gb2312_declaration_and_lowercase_items() -> None:
    body = (
        '<?xml version="1.0" encoding="GB2312"?><Response><CmdType>Catalog</CmdType><SN>1</SN>'
        '<DeviceID>34020000001180000001</DeviceID><SumNum>1</SumNum><DeviceList Num="1"><item>'
        "<DeviceID>34020000001310000001</DeviceID><Name>东门</Name><Longitude>118.08</Longitude>"
        "<Latitude>24.48</Latitude></item></DeviceList></Response>"
    ).encode()
    [item] = manscdp.catalog_page(manscdp.read("application/MANSCDP+xml", body)).items
    assert (item.name, item.longitude, item.latitude) == ("东门", 118.08, 24.48)


def test_framer_cuts_a_stream_into_messages() -> None:
    one = capture("dahua-keepalive.sip").serialise()
    two = capture("dahua-register.sip").serialise()
    stream = b"\r\n\r\n" + one + two
    framer = sip.Framer()
    found: list[bytes] = []
    for start in range(0, len(stream), 7):
        found += framer.feed(stream[start : start + 7])
    assert [sip.parse(m).method for m in found] == ["MESSAGE", "REGISTER"]
    with pytest.raises(SipError) as caught:
        sip.Framer(max_body=10).feed(REQUEST + b"Content-Length: 11\r\n\r\n")
    assert caught.value.status == 413
