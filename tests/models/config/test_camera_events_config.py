"""``camera_events:`` and a camera's ``onvif:`` in the site file: what they load as, and precise problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.camera_events import CameraEventTable, EventAction
from models.config import config_problems, load_site_config
from models.records import EventKind, OnvifEndpoint
from router.imports.cameras import site_camera_problems
from tests.models.config.site_file import edit

ONVIF = "    onvif: {port: 8080, password: '${CAM_ONVIF_PASSWORD}'}\n"
RULES = """
camera_events:
  - topic: tnsaxis:CameraApplicationPlatform/ObjectAnalytics/*
    kind: crowd
    state_item: active
  - topic: tns1:RuleEngine/FieldDetector/ObjectsInside
    kind: attach
  - topic: tns1:VideoSource/GlobalSceneChange/*
    kind: ignore
"""


def _with_events(site: Path, source: str = "rtsp://admin:${CAM_PW}@192.0.2.10:554/sub") -> None:
    edit(site, "source: rtsp://192.0.2.10:554/sub", f"source: {source}")
    edit(site, "    analysis_fps: 2\n", "    analysis_fps: 2\n" + ONVIF)
    site.write_text(site.read_text(encoding="utf-8") + RULES, encoding="utf-8")


def test_onvif_and_rules_load_into_the_endpoint_and_the_table(site: Path) -> None:
    _with_events(site)
    config = load_site_config(site, checks=[site_camera_problems])
    [camera] = config.cameras
    assert camera.onvif is not None
    # Host, user and the password's placeholder come from the stream URL; the port from onvif:.
    assert camera.onvif.endpoint(camera.source) == OnvifEndpoint(
        "192.0.2.10", 8080, "admin", "${CAM_ONVIF_PASSWORD}", True
    )
    # The camera record carries it (to the store, and to the analysis role in RunCamera).
    assert camera.to_camera().onvif == camera.onvif.endpoint(camera.source)
    table = CameraEventTable(rule.to_rule() for rule in config.camera_events)
    vendor = table.lookup("tnsaxis:CameraApplicationPlatform/ObjectAnalytics/Device1Scenario1")
    assert vendor is not None and vendor.kind is EventKind.CROWD and vendor.state_item == "active"
    assert table.state_item("tnsaxis:CameraApplicationPlatform/ObjectAnalytics/Device1Scenario1") == "active"
    attach = table.lookup("tns1:RuleEngine/FieldDetector/ObjectsInside")
    assert attach is not None and attach.action is EventAction.ATTACH
    # The site's rule comes before the default it overrides; the other defaults stay.
    scene = table.lookup("tns1:VideoSource/GlobalSceneChange/ImagingService")
    assert scene is not None and scene.action is EventAction.IGNORE
    tamper = table.lookup("tns1:RuleEngine/TamperDetector/Tamper")
    assert tamper is not None and tamper.kind is EventKind.CAMERA_TAMPER
    loss = table.lookup("tns1:VideoSource/SignalLoss")
    assert loss is not None and loss.kind is EventKind.CAMERA_OFFLINE
    assert table.lookup("tns1:VideoSource/MotionAlarm") is None  # motion means nothing by default


def test_the_source_password_placeholder_serves_onvif_too(site: Path) -> None:
    _with_events(site)
    edit(site, ONVIF, "    onvif: {}\n")
    [camera] = load_site_config(site).cameras
    assert camera.onvif is not None
    endpoint = camera.onvif.endpoint(camera.source)
    assert endpoint is not None and endpoint.password_env == "CAM_PW" and endpoint.port == 80


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("    kind: crowd\n    state_item", "    kind: tamper\n    state_item",
         "camera_events[0].kind: unknown kind 'tamper'; use one of crowd, fire, smoke, occupation, fall, "
         "line_crossing, camera_offline, camera_tamper, link_down, attach, ignore"),
        ("  - topic: tns1:RuleEngine/FieldDetector/ObjectsInside\n",
         "  - topic: RuleEngine/FieldDetector/ObjectsInside\n",
         "camera_events[1].topic: 'RuleEngine/FieldDetector/ObjectsInside' is not a topic: write "
         "PREFIX:Path/To/Topic, e.g. tns1:RuleEngine/TamperDetector/Tamper"),
        ("    state_item: active\n", "    state: active\n",
         "camera_events[0].state: unknown key (did you mean 'state_item'?)"),
        ("password: '${CAM_ONVIF_PASSWORD}'", "password: hunter2",
         "cameras[0].onvif.password: holds an inline password; write password: ${CAM_PASSWORD} and set "
         "CAM_PASSWORD in the environment"),
        ("port: 8080", "port: 0", "cameras[0].onvif.port: Input should be greater than or equal to 1"),
        ("port: 8080", "host: 'http://192.0.2.10'",
         "cameras[0].onvif.host: 'http://192.0.2.10' is not a host name or IP address (no scheme, no port: "
         "use port:)"),
        ("port: 8080", "prot: 8080", "cameras[0].onvif.prot: unknown key (did you mean 'port'?)"),
    ],
)  # fmt: skip
def test_each_problem_names_file_line_and_path(site: Path, old: str, new: str, problem: str) -> None:
    _with_events(site)
    line = edit(site, old, new)
    assert config_problems(site, checks=[site_camera_problems]) == [f"site.yaml:{line}: {problem}"]


def test_onvif_without_a_host_needs_an_rtsp_source(site: Path) -> None:
    _with_events(site, source="/srv/video/street.mp4")
    line = edit(site, ONVIF, "    onvif: {port: 8080}\n")
    assert config_problems(site) == [
        f"site.yaml:{line}: cameras[0].onvif: has no host, and the source is not an rtsp:// URL to take it "
        "from; set onvif.host"
    ]
