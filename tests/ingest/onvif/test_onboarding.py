"""Onboarding against the virtual ONVIF camera (ipycam), then streaming from what it reported."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ingest.camera_urls import parse_subnets
from ingest.onvif.device import OnvifDevice, probe_device
from ingest.onvif.models import Credentials, DeviceReport, DeviceTarget, FailureKind
from ingest.onvif.onboarding import merge_cameras, onboard, parse_hosts, stream_source
from ingest.sources import RtspSource
from models.clock import SystemClock
from models.records import OnvifEndpoint
from models.secrets import expand_source
from tests.ingest.onvif.conftest import CAMERA_PASSWORD, CAMERA_USER, OnvifPeer

LOOPBACK = parse_subnets(["127.0.0.0/8"])
ENV = "TEST_ONVIF_PASSWORD"


def good_login() -> Credentials:
    return Credentials(CAMERA_USER, CAMERA_PASSWORD, ENV)


async def test_onboarding_finds_everything_then_streams(
    onvif_peer: OnvifPeer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    target = DeviceTarget("127.0.0.1", onvif_peer.onvif_port, "cam-peer", lonlat=(113.7, 34.7))
    report = await probe_device(target, good_login(), clock=SystemClock())

    assert report.ok, report.failure
    assert report.info is not None and report.info.model == "VirtualCam-1" and report.info.firmware
    assert report.clock_skew_s is not None and abs(report.clock_skew_s) < 5
    assert [p.token for p in report.profiles] == ["Profile_Main", "Profile_Sub"]
    main, sub = report.main, report.sub
    assert main is not None and (main.width, main.height, main.encoding) == (640, 480, "H264")
    assert sub is not None and (sub.width, sub.height) == (320, 240) and sub.fps == 10
    assert main.stream_uri == f"rtsp://127.0.0.1:{onvif_peer.rtsp_port}/video_main"
    assert sub.stream_uri == f"rtsp://127.0.0.1:{onvif_peer.rtsp_port}/video_sub"
    assert main.snapshot_uri and main.snapshot_uri.startswith("http://127.0.0.1")
    assert report.has_ptz and [p.token for p in report.presets] == ["home"]

    [camera] = merge_cameras([(report, good_login())], {})
    assert camera.id == "cam-peer" and camera.enabled and camera.frame_size == (320, 240)
    assert camera.source == f"rtsp://admin:${{{ENV}}}@127.0.0.1:{onvif_peer.rtsp_port}/video_sub"
    # The virtual camera has no Events service: its endpoint is kept, with nothing to subscribe to.
    assert not report.has_events
    assert camera.onvif == OnvifEndpoint(
        "127.0.0.1", onvif_peer.onvif_port, "admin", f"${{{ENV}}}", events=False
    )

    async with OnvifDevice(target, good_login(), clock=SystemClock()) as device:
        await device.goto_preset("Profile_Main", "home")

    live = expand_source(camera.source, {ENV: CAMERA_PASSWORD})
    source = RtspSource(camera.id, live, SystemClock())
    try:
        frames = source.frames()
        first = await asyncio.wait_for(anext(frames), 20)
    finally:
        await source.aclose()
    assert first.size == (320, 240)
    assert CAMERA_PASSWORD not in caplog.text


async def test_a_wrong_password_is_reported_as_a_failed_login(onvif_peer: OnvifPeer) -> None:
    target = DeviceTarget("127.0.0.1", onvif_peer.onvif_port)
    report = await probe_device(target, Credentials(CAMERA_USER, "wrong-password"), clock=SystemClock())
    assert not report.ok
    assert report.failure is not None and report.failure.kind is FailureKind.LOGIN_FAILED
    assert "login failed" in report.failure.reason


async def test_onboarding_is_idempotent_and_never_contacts_addresses_outside_the_subnets(
    onvif_peer: OnvifPeer,
) -> None:
    targets = parse_hosts(
        f"127.0.0.1:{onvif_peer.onvif_port} id=cam-peer name=Gate_east lonlat=113.7,34.7\n"
        "10.9.9.9:80 id=elsewhere   # not in the camera subnets\n"
    )
    probed: list[DeviceTarget] = []

    async def probe(target: DeviceTarget, credentials: Credentials | None) -> DeviceReport:
        probed.append(target)
        return await probe_device(target, credentials, clock=SystemClock())

    reports = await onboard(targets, LOOPBACK, good_login(), SystemClock(), environ={}, probe=probe)
    assert [t.host for t in probed] == ["127.0.0.1"]
    assert reports[1].failure is not None and reports[1].failure.kind is FailureKind.REFUSED
    [first] = merge_cameras([(reports[0], good_login())], {})
    assert first.name == "Gate east"
    # People then name it and draw zones; a second onboarding refreshes only the stream.
    from dataclasses import replace

    edited = replace(first, name="East gate", enabled=False)
    [again] = merge_cameras([(reports[0], good_login())], {edited.id: edited})
    assert again == edited


def test_stream_source_never_holds_the_password() -> None:
    uri = "rtsp://olduser:oldpass@192.168.10.5:554/Streaming/Channels/102"
    assert (
        stream_source(uri, good_login()) == f"rtsp://admin:${{{ENV}}}@192.168.10.5:554/Streaming/Channels/102"
    )
    assert stream_source(uri, None) == "rtsp://192.168.10.5:554/Streaming/Channels/102"
