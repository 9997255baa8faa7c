"""Admission of untrusted camera URLs: a table of (url, refused because …)."""

from __future__ import annotations

import pytest

from ingest.camera_urls import ONVIF_SCHEMES, RefusedUrl, check_camera_url, parse_subnets

SUBNETS = parse_subnets(["127.0.0.0/8", "192.168.10.0/24"])


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("rtsp://127.1/", "shorthand IPv4"),
        ("rtsp://2130706433/", "shorthand IPv4"),
        ("rtsp://0x7f.0.0.1/", "shorthand IPv4"),
        ("rtsp://0177.0.0.1/", "shorthand IPv4"),
        ("file:/etc/passwd", "not a URL"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("/etc/passwd", "not a URL"),
        ("http://127.0.0.1/", "scheme 'http'"),
        ("rtsp://127.0.0.1/live;reboot", "characters"),
        ("rtsp://127.0.0.1/$(touch /tmp/x)", "characters"),
        ("rtsp://127.0.0.1/`id`", "characters"),
        ("rtsp://127.0.0.1/a|b", "characters"),
        ("rtsp://10.1.2.3:554/stream", "outside the site's camera subnets"),
        ("rtsp://[::1]/x", "outside the site's camera subnets"),
        ("rtsp://[::ffff:10.0.0.1]/x", "outside the site's camera subnets"),
        ("rtsp://admin:hunter2@127.0.0.1/x", "inline password"),
        ("rtsp://${USER}@127.0.0.1/x", "characters"),
        ("rtsp://cam_1.local/x", "neither"),
        (" rtsp://127.0.0.1/", "spaces"),
        ("rtsp://127.0.0.1:0/", "port 0"),
        ("rtsp:///path", "no host"),
    ],
)
async def test_refused(url: str, reason: str) -> None:
    with pytest.raises(RefusedUrl) as refused:
        await check_camera_url(url, SUBNETS)
    assert reason in str(refused.value)
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "rtsp://127.0.0.1:8554/cam1",
        "rtsps://192.168.10.20/Streaming/Channels/102?transportmode=unicast&profile=Profile_2",
        "rtsp://admin:${CAM_PASSWORD}@192.168.10.21:554/cam/realmonitor?channel=1&subtype=1",
        "rtsp://[::ffff:127.0.0.1]/x",
    ],
)
async def test_admitted(url: str) -> None:
    checked = await check_camera_url(url, SUBNETS)
    assert checked.scheme in {"rtsp", "rtsps"}


async def test_onvif_urls_use_http() -> None:
    url = "http://192.168.10.5/onvif/device_service"
    checked = await check_camera_url(url, SUBNETS, schemes=ONVIF_SCHEMES)
    assert checked.port is None
    with pytest.raises(RefusedUrl, match="scheme 'rtsp'"):
        await check_camera_url("rtsp://192.168.10.5/", SUBNETS, schemes=ONVIF_SCHEMES)


async def test_no_configured_subnets_refuses_everything() -> None:
    with pytest.raises(RefusedUrl, match="no camera subnets"):
        await check_camera_url("rtsp://127.0.0.1/", ())
