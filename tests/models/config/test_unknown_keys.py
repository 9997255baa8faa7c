"""Unknown keys: the did-you-mean, secret and wrong-place hints come from the schema, for every section."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from models.config import (
    CalibrationPointConfig,
    CameraConfig,
    CameraEventRuleConfig,
    ClipsSection,
    CrowdZone,
    DetectorsSection,
    DingTalkTarget,
    FireDetectorConfig,
    FireZone,
    LineZone,
    LinkSection,
    MountConfig,
    MqttSection,
    OccupationZone,
    OnvifConfig,
    PersonDetectorConfig,
    PoliciesSection,
    SiteConfig,
    SiteSection,
    TownshipConfig,
    TownshipNodeConfig,
    WebhookTarget,
    WeComTarget,
    config_problems,
    describe_errors,
)
from models.config.gb28181 import Gb28181Section, GbAlarmRule, GbMediaSection, GbUpperSection
from models.config.hints import document_path, reachable_models
from models.config.metrics import MetricsSection
from models.config.policies import (
    CrowdWindowRow,
    DeadlineRow,
    DeadlinesSection,
    FilingRule,
    FilingSection,
    KindTriage,
    TriageRow,
    TriageSection,
    VerificationSection,
)
from models.config.retention import RetentionSection
from models.config.sign_in import SignInSection
from models.config.zones import StaticMassConfig
from tests.models.config.site_file import edit, uncomment_line_zone


def _problems(site: Path, old: str, new: str, key: str) -> tuple[list[str], int]:
    """The problems of the example after one edit, and the line where the edit wrote key."""
    uncomment_line_zone(site)  # so the line zone has its cases too
    line = edit(site, old, new) + new[: new.index(f"{key}:")].count("\n")
    return config_problems(site), line


def test_the_reported_examples(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    text = "site: {name: 青河县}\ndetectors: {fire: {every_second: 3}}\nclips: {pre_second: 3}\n"
    path.write_text(text, encoding="utf-8")
    assert config_problems(path) == [
        "site.yaml:2: detectors.fire.every_second: unknown key (did you mean 'every_seconds'?)",
        "site.yaml:3: clips.pre_second: unknown key (did you mean 'pre_seconds'?)",
    ]


_FPS = "    analysis_fps: 2\n"
# Every key of a camera, each misspelt beside analysis_fps: (as written, the key meant).
CAMERA_KEYS = [
    ("idd", "id"),
    ("nmae", "name"),
    ("sources", "source"),
    ("framesize", "frame_size"),
    ("mounts", "mount"),
    ("calibrations", "calibration"),
    ("zone", "zones"),
    ("analysis_fsp", "analysis_fps"),
    ("enable", "enabled"),
    ("fire_every_second", "fire_every_seconds"),
    ("onvf", "onvif"),
]
# (the model the key is written in, text of the example, replaced by, where the key is, the key meant)
_GB = "gb28181:\n  platform_id: '34020000002000000001'\n  domain: '3402000000'\n  password: ${GB_PASSWORD}\n"
DID_YOU_MEAN: list[tuple[type[BaseModel], str, str, str, str]] = [
    (SiteConfig, "clips:\n", "clip:\n", "clip", "clips"),
    (SiteSection, "  timezone: Asia", "  time_zone: Asia", "site.time_zone", "timezone"),
    *[
        (CameraConfig, _FPS, f"{_FPS}    {typo}: 1\n", f"cameras[0].{typo}", key)
        for typo, key in CAMERA_KEYS
    ],
    (MountConfig, "heading_deg: 0}", "heading: 0}", "cameras[0].mount.heading", "heading_deg"),
    (CalibrationPointConfig, "{px: [0, 130], lonlat:", "{px: [0, 130], lon_lat: [0, 0], lonlat:",
     "cameras[0].calibration[0].lon_lat", "lonlat"),
    (CrowdZone, "min_persons: 5", "min_person: 5", "cameras[0].zones[0].min_person", "min_persons"),
    (OccupationZone, "min_seconds: 30", "min_second: 30", "cameras[0].zones[1].min_second", "min_seconds"),
    (StaticMassConfig, "static_mass: {enabled: true", "static_mass: {enable: true",
     "cameras[0].zones[1].static_mass.enable", "enabled"),
    (FireZone, "[[0, 0], [768, 0], [768, 576], [0, 576]]\n",
     "[[0, 0], [768, 0], [768, 576], [0, 576]]\n        cooldown_second: 5\n",
     "cameras[0].zones[2].cooldown_second", "cooldown_seconds"),
    (LineZone, "labels: [vehicle]", "label: [vehicle]", "cameras[0].zones[3].label", "labels"),
    (DetectorsSection, "  person:\n", "  persons:\n", "detectors.persons", "person"),
    (PersonDetectorConfig, "imgsz: 640", "img_size: 640", "detectors.person.img_size", "imgsz"),
    (FireDetectorConfig, "every_seconds: 2 ", "every_second: 2 ", "detectors.fire.every_second",
     "every_seconds"),
    (ClipsSection, "pre_seconds: 5 ", "pre_second: 5 ", "clips.pre_second", "pre_seconds"),
    (RetentionSection, "  quota_mb: 50000", "  quota: 50000", "retention.quota", "quota_mb"),
    (LinkSection, "  skew_flag_seconds: 2", "  skew_flag_second: 2", "link.skew_flag_second",
     "skew_flag_seconds"),
    (WebhookTarget, "secret_env: GRIDWATCH_WEBHOOK", "secrets_env: GRIDWATCH_WEBHOOK",
     "notifications[0].secrets_env", "secret_env"),
    (WeComTarget, "  - type: wecom\n", "  - type: wecom\n    webhook_env: X\n",
     "notifications[1].webhook_env", "webhook_url_env"),
    (DingTalkTarget, "secret_env: GRIDWATCH_DINGTALK", "secret_evn: GRIDWATCH_DINGTALK",
     "notifications[2].secret_evn", "secret_env"),
    (PoliciesSection, "  dedup_cell_m: 100", "  dedup_cell: 100", "policies.dedup_cell", "dedup_cell_m"),
    (TriageSection, "    occupation: {severity", "    occupations: {severity", "policies.triage.occupations",
     "occupation"),
    (KindTriage, "      exclusive: {severity", "      exclusives: {severity",
     "policies.triage.crowd.exclusives", "exclusive"),
    (TriageRow, "exclusive: {severity: critical}", "exclusive: {severty: critical}",
     "policies.triage.crowd.exclusive.severty", "severity"),
    (DeadlinesSection, "    critical: {accept", "    critcal: {accept", "policies.deadlines.critcal",
     "critical"),
    (DeadlineRow, "high: {accept_minutes: 10", "high: {accept_minute: 10",
     "policies.deadlines.high.accept_minute", "accept_minutes"),
    (FilingSection, "    crowd: {file_above", "    crwod: {file_above", "policies.filing.crwod", "crowd"),
    (FilingRule, "{file_above: 0}", "{file_above: 0, file_abve: 0}", "policies.filing.crowd.file_abve",
     "file_above"),
    (VerificationSection, "verification: {crowd: 10", "verification: {crwod: 10",
     "policies.verification.crwod", "crowd"),
    (CrowdWindowRow, "min_persons: 60, min_seconds", "min_person: 60, min_seconds",
     "policies.crowd_thresholds.market[0].min_person", "min_persons"),
    (OnvifConfig, _FPS, f"{_FPS}    onvif: {{host: 192.0.2.10, prot: 80}}\n", "cameras[0].onvif.prot",
     "port"),
    (CameraEventRuleConfig, "clips:\n",
     "camera_events:\n  - {topic: 'tns1:VideoSource/SignalLoss', kind: attach, state_itme: State}\nclips:\n",
     "camera_events[0].state_itme", "state_item"),
    (MqttSection, "clips:\n", "mqtt: {host: broker.example, topic_prefx: gw}\nclips:\n", "mqtt.topic_prefx",
     "topic_prefix"),
    (SignInSection, "  max_failures: 20", "  max_failure: 20", "sign_in.max_failure", "max_failures"),
    (MetricsSection, "  api_key_env: GRIDWATCH_METRICS_KEY", "  api_key_evn: GRIDWATCH_METRICS_KEY",
     "metrics.api_key_evn", "api_key_env"),
    (Gb28181Section, "clips:\n", f"{_GB}  keepalive: 60\nclips:\n", "gb28181.keepalive", "keepalive_s"),
    (GbAlarmRule, "clips:\n", f"{_GB}  alarms:\n    - {{method: 5, kind: crowd, knd: crowd}}\nclips:\n",
     "gb28181.alarms[0].knd", "kind"),
    (GbUpperSection, "clips:\n",
     f"{_GB}  upper: {{id: '34010000002000000001', domain: '3401000000', host: 192.0.2.1, "
     "password: '${UP}', "
     "prot: 5060}\nclips:\n", "gb28181.upper.prot", "port"),
    (GbMediaSection, "clips:\n", f"{_GB}  media: {{transprt: udp}}\nclips:\n", "gb28181.media.transprt",
     "transport"),
    (TownshipConfig, "    name: 城关街道\n", "    nmae: 城关街道\n", "townships[0].nmae", "name"),
    (TownshipNodeConfig, "      - name: chengguan-1", "      - nam: chengguan-1\n        name: chengguan-1",
     "townships[0].nodes[0].nam", "name"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("model", "old", "new", "where", "key"),
    DID_YOU_MEAN,
    ids=[f"{case[0].__name__}-{case[3]}" for case in DID_YOU_MEAN],
)
def test_a_misspelt_key_is_matched_within_its_own_section(
    site: Path, model: type[BaseModel], old: str, new: str, where: str, key: str
) -> None:
    assert key in model.model_fields
    problems, line = _problems(site, old, new, where.rpartition(".")[2])
    assert problems == [f"site.yaml:{line}: {where}: unknown key (did you mean {key!r}?)"]


def test_the_schema_walk_reaches_every_model_and_each_has_a_did_you_mean_case() -> None:
    # pydantic's own JSON schema lists every nested model; the walker must find the same ones.
    nested = set(SiteConfig.model_json_schema()["$defs"])
    reached = reachable_models(SiteConfig)
    assert {model.__name__ for model in reached} == nested | {"SiteConfig"}
    assert {case[0] for case in DID_YOU_MEAN} == set(reached)
    assert {key for _, key in CAMERA_KEYS} == set(CameraConfig.model_fields)


@pytest.mark.parametrize(
    ("loc", "where", "model"),
    [
        (("cameras", 0, "zones", 3, "line"), ("cameras", 0, "zones", 3), LineZone),
        (("cameras", 0, "zones", 2, "fire"), ("cameras", 0, "zones", 2), FireZone),
        # 'fire' here is a section, not the zone kind: it stays in the path.
        (("detectors", "fire"), ("detectors", "fire"), FireDetectorConfig),
        (("models", "fire"), ("models", "fire"), FireDetectorConfig),
        (("notifications", 1, "wecom"), ("notifications", 1), WeComTarget),
        (("cameras", 0, "mount", "lonlat", 1), ("cameras", 0, "mount", "lonlat", 1), None),
        (("cameras", 0, "nothing", "here"), ("cameras", 0, "nothing", "here"), None),
    ],
)
def test_the_walk_drops_union_tags_only(
    loc: tuple[str | int, ...], where: tuple[str | int, ...], model: type[BaseModel] | None
) -> None:
    assert document_path(SiteConfig, loc) == (where, model)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("secret_env: GRIDWATCH_DINGTALK_SECRET", "secret: SEC123",
         "notifications[2].secret: unknown key; secrets are never written here: put it in an environment "
         "variable and name that variable with secret_env"),
        ("webhook_url_env: GRIDWATCH_DINGTALK_URL",
         "webhook_url_env: GRIDWATCH_DINGTALK_URL\n    webhook_url: https://oapi.dingtalk.com/robot/send?x=1",
         "notifications[2].webhook_url: unknown key; secrets are never written here: put it in an "
         "environment variable and name that variable with webhook_url_env"),
        # A WeCom robot takes no signing secret: say so rather than point at a key it does not have.
        ("webhook_url_env: GRIDWATCH_WECOM_URL", "webhook_url_env: GRIDWATCH_WECOM_URL\n    secret: x",
         "notifications[1].secret: unknown key here; secrets are never written in this file, and only "
         "notifications[] of type webhook or dingtalk take one, named by secret_env"),
    ],
)  # fmt: skip
def test_a_secret_written_inline_points_to_its_env_key(site: Path, old: str, new: str, problem: str) -> None:
    problems, line = _problems(site, old, new, problem.partition(": ")[0].rpartition(".")[2])
    assert problems == [f"site.yaml:{line}: {problem}"]


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("labels: [vehicle]", "labels: [vehicle]\n        min_persons: 3",
         "cameras[0].zones[3].min_persons: unknown key here (other sections or zone kinds have it: "
         "cameras[].zones[] of kind crowd; policies.crowd_thresholds.<name>[])"),
        ("min_persons: 5", "min_persons: 5\n        every_seconds: 2",
         "cameras[0].zones[0].every_seconds: unknown key here (other sections or zone kinds have it: "
         "detectors.fire)"),
        ("  pre_seconds: 5", "  pre_seconds: 5\n  every_seconds: 2",
         "clips.every_seconds: unknown key here (other sections or zone kinds have it: detectors.fire)"),
        ("  timezone: Asia", "  enabled: true\n  timezone: Asia",
         "site.enabled: unknown key here (other sections or zone kinds have it: cameras[]; "
         "cameras[].zones[].static_mass; detectors.fire; clips)"),
        # A close match in the model itself wins over the same key elsewhere.
        ("    analysis_fps: 2\n", "    analysis_fps: 2\n    every_seconds: 1\n",
         "cameras[0].every_seconds: unknown key (did you mean 'fire_every_seconds'?)"),
    ],
)  # fmt: skip
def test_a_key_of_another_section_says_where_it_belongs(site: Path, old: str, new: str, problem: str) -> None:
    problems, line = _problems(site, old, new, problem.partition(": ")[0].rpartition(".")[2])
    assert problems == [f"site.yaml:{line}: {problem}"]


def test_a_camera_checked_alone_gets_the_same_hints() -> None:
    """The registry API validates one camera: the walk starts at CameraConfig, named by the error."""
    camera = {
        "id": "cam-1",
        "name": "gate",
        "source": "rtsp://192.0.2.10/sub",
        "frame_size": [768, 576],
        "mount": {"lonlat": [118.63, 35.79], "heading": 0},
        "zones": [{"kind": "line", "name": "gate", "polygon_px": [[0, 0], [10, 0]], "min_seconds": 3}],
    }
    with pytest.raises(ValidationError) as error:
        CameraConfig.model_validate(camera)
    assert describe_errors(error.value) == [
        (("mount", "heading"), "unknown key (did you mean 'heading_deg'?)"),
        (
            ("zones", 0, "min_seconds"),
            "unknown key here (other sections or zone kinds have it: "
            "zones[] of kind crowd, occupation or fire)",
        ),
    ]
