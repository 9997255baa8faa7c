from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from models.config import ConfigError, config_problems, load_site_config
from models.records import LineDirection, ZoneKind
from models.secrets import expand_source
from router.imports import parse_cameras, site_camera_problems
from tests.conftest import DEMO_DIR
from tests.models.config.site_file import EXAMPLE
from tests.models.config.site_file import edit as _edit
from tests.models.config.site_file import uncomment_line_zone as _uncomment_line_zone

DEMO_CAMERAS = DEMO_DIR / "cameras.json"


def test_example_is_valid_and_matches_the_demo_camera() -> None:
    assert config_problems(EXAMPLE, checks=[site_camera_problems]) == []
    config = load_site_config(EXAMPLE, checks=[site_camera_problems])
    [camera] = [c.to_camera() for c in config.cameras]
    _, [demo] = parse_cameras(DEMO_CAMERAS.read_text(encoding="utf-8"))
    # Both have the whole-view fire zone (the demo's is back: the fire rules' temporal stage holds back the
    # static spot the fire model calls "fire" in vtest.avi).
    fire = camera.zones[-1]
    assert (fire.name, fire.kind) == ("whole-view", ZoneKind.FIRE)
    assert camera == dataclasses.replace(demo, source="rtsp://192.0.2.10:554/sub")
    assert [n.type for n in config.notifications] == ["webhook", "wecom", "dingtalk"]
    assert config.detectors.person.imgsz == 640
    assert (config.clips.enabled, config.clips.pre_seconds, config.clips.post_seconds) == (True, 5.0, 5.0)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("secret_env: GRIDWATCH_WEBHOOK_SECRET", "secret: hunter2",
         "notifications[0].secret: unknown key; secrets are never written here: put it in an environment "
         "variable and name that variable with secret_env"),
        ("min_persons: 5", "min_persons: 0",
         "cameras[0].zones[0].min_persons: Input should be greater than 0"),
        ("kind: occupation", "kind: parking",
         "cameras[0].zones[1].kind: Input tag 'parking' found using 'kind' does not match"),
        ("timezone: Asia/Shanghai", "timezone: Asia/Beijing",
         "site.timezone: unknown time zone 'Asia/Beijing'"),
        ("[192.0.2.0/24]", "[192.0.2.7/24]", "site.camera_subnets: '192.0.2.7/24' is not a network"),
        ("source: rtsp://192.0.2.10:554/sub", "source: rtsp://admin:12345@192.0.2.10:554/sub",
         "cameras[0].source: holds an inline password"),
        ("source: rtsp://192.0.2.10:554/sub", "source: http://192.0.2.10/video",
         "cameras[0].source: must be an rtsp:// or rtsps:// URL or a file path, got scheme 'http'"),
        ("imgsz: 640", "imgsz: 600", "detectors.person.imgsz: must be a multiple of 32, got 600"),
        ("type: wecom", "type: slack", "notifications[1].type: Input tag 'slack' found using 'type'"),
        ("webhook_url_env: GRIDWATCH_WECOM_URL", "webhook_url_env: https://qyapi.weixin.qq.com/x?key=1",
         "notifications[1].webhook_url_env: String should match pattern"),
        ("{px: [0, 576], lonlat: [118.6298893, 35.7909225]}", "{px: [0, 576]}",
         "cameras[0].calibration[3].lonlat: required key is missing"),
        ("pre_seconds: 5 ", "pre_seconds: 60 ",
         "clips.pre_seconds: Input should be less than or equal to 30"),
        ("post_seconds: 5 ", "post_seconds: -1 ",
         "clips.post_seconds: Input should be greater than or equal to 0"),
    ],
)  # fmt: skip
def test_each_problem_names_file_line_and_path(site: Path, old: str, new: str, problem: str) -> None:
    line = _edit(site, old, new)
    [found] = config_problems(site, checks=[site_camera_problems])
    assert found.startswith(f"site.yaml:{line}: {problem}")


def test_misspelt_key_gives_its_line_and_the_likely_key(site: Path) -> None:
    line = _edit(site, "    zones:\n", "    zonez:\n")
    assert config_problems(site) == [
        "site.yaml:11: cameras[0].zones: required key is missing",
        f"site.yaml:{line}: cameras[0].zonez: unknown key (did you mean 'zones'?)",
    ]


@pytest.mark.parametrize(
    ("count", "problem"),
    [
        (3, "calibration needs at least 4 point pairs, got 3"),
        (4, "calibration pixels all lie on one line"),
    ],
)
def test_calibration_problems_come_from_the_homography_fit(site: Path, count: int, problem: str) -> None:
    text = site.read_text(encoding="utf-8")
    start = text.index("    calibration:\n")
    end = text.index("    zones:\n")
    points = "".join(
        f"      - {{px: [{100 * i}, {100 + 100 * i}], lonlat: [118.63{i}, 35.79]}}\n" for i in range(count)
    )
    site.write_text(text[:start] + "    calibration:\n" + points + text[end:], encoding="utf-8")
    line = text[:start].count("\n") + 1
    assert config_problems(site, checks=[site_camera_problems]) == [
        f"site.yaml:{line}: cameras[0].calibration: camera cam-dongguan-road: {problem}"
    ]


def test_malformed_yaml_gives_one_line_with_line_and_column(site: Path) -> None:
    line = _edit(site, "  timezone: Asia/Shanghai", "   timezone: Asia/Shanghai")
    [problem] = config_problems(site)
    assert problem == f"site.yaml:{line}:12: malformed YAML: mapping values are not allowed here"


def test_unclosed_bracket_points_back_to_where_it_opened(site: Path) -> None:
    line = _edit(site, "camera_subnets: [192.0.2.0/24]", "camera_subnets: [192.0.2.0/24")
    [problem] = config_problems(site)
    assert problem.endswith(f"(while parsing a flow sequence at line {line}, column 19)")
    assert problem.startswith("site.yaml:10:1: malformed YAML: expected ',' or ']'")


def test_every_problem_is_reported_at_once(site: Path) -> None:
    _edit(site, "min_persons: 5", "min_persons: 0")
    _edit(site, "analysis_fps: 2", "analysis_fps: 0")
    _edit(site, "confidence: 0.30", "confidence: 1.5\n    confidence: 0.4")
    problems = config_problems(site)
    assert [p.split(": ")[1] for p in problems] == [
        "detectors.person.confidence",
        "cameras[0].zones[0].min_persons",
        "cameras[0].analysis_fps",
    ]
    assert "duplicate key" in problems[0]


def test_load_raises_with_every_problem(site: Path) -> None:
    _edit(site, "name: 青河县城关街道", "nam: 青河县城关街道")
    with pytest.raises(ConfigError) as error:
        load_site_config(site)
    assert error.value.problems == [
        "site.yaml:5: site.name: required key is missing",
        "site.yaml:6: site.nam: unknown key (did you mean 'name'?)",
    ]


@pytest.mark.parametrize("content", ["", "- just\n- a list\n"])
def test_a_file_that_is_not_a_mapping_is_refused(site: Path, content: str) -> None:
    site.write_text(content, encoding="utf-8")
    [problem] = config_problems(site)
    assert problem.startswith("site.yaml: expected a mapping with site, cameras")


def test_import_files_resolve_next_to_the_config(site: Path) -> None:
    (site.parent / "grids.geojson").write_text("{}", encoding="utf-8")
    _edit(site, "# grids_file: grids.geojson", "grids_file: grids.geojson")
    line = _edit(site, "# roster_file: roster.csv", "roster_file: roster.csv")
    assert config_problems(site) == [
        f"site.yaml:{line}: roster_file: no such file: {site.parent / 'roster.csv'}"
    ]
    (site.parent / "roster.csv").write_text("", encoding="utf-8")
    config = load_site_config(site)
    assert (config.grids_file, config.roster_file) == (
        site.parent / "grids.geojson",
        site.parent / "roster.csv",
    )


def test_missing_file_is_one_problem(tmp_path: Path) -> None:
    [problem] = config_problems(tmp_path / "absent.yaml")
    assert "cannot read" in problem


@pytest.mark.parametrize(
    ("source", "environ", "expected"),
    [
        (
            "rtsp://admin:${CAM_PW}@192.0.2.10/sub",
            {"CAM_PW": "p@ss:w"},
            "rtsp://admin:p%40ss%3Aw@192.0.2.10/sub",
        ),
        ("rtsp://192.0.2.10/sub", {}, "rtsp://192.0.2.10/sub"),
    ],
)
def test_expand_source_fills_placeholders(source: str, environ: dict[str, str], expected: str) -> None:
    assert expand_source(source, environ) == expected


def test_expand_source_names_a_missing_variable() -> None:
    with pytest.raises(KeyError, match="CAM_PW is not set"):
        expand_source("rtsp://admin:${CAM_PW}@192.0.2.10/sub", {})


def test_placeholder_password_is_accepted(site: Path) -> None:
    _edit(site, "source: rtsp://192.0.2.10:554/sub", "source: rtsp://admin:${CAM_PW}@192.0.2.10:554/sub")
    assert config_problems(site) == []


def test_json_schema_documents_every_key() -> None:
    from models.config import SiteConfig

    schema = json.dumps(SiteConfig.model_json_schema())
    for key in ("camera_subnets", "min_persons", "secret_env", "webhook_url_env", "analysis_fps"):
        assert f'"{key}"' in schema
    assert '"description"' in schema


def test_the_commented_line_zone_of_the_example_loads(site: Path) -> None:
    _uncomment_line_zone(site)
    assert config_problems(site, checks=[site_camera_problems]) == []
    [camera] = [c.to_camera() for c in load_site_config(site).cameras]
    entrance = camera.zones[3]
    assert (entrance.name, entrance.kind, entrance.polygon_px) == (
        "fire-lane-entrance",
        ZoneKind.LINE,
        ((600.0, 130.0), (768.0, 120.0)),
    )
    assert (entrance.direction, entrance.labels, entrance.cooldown_seconds) == (
        LineDirection.RIGHT_TO_LEFT,
        ("vehicle",),
        10.0,
    )


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("[[600, 130], [768, 120]]", "[[600, 130], [768, 120], [700, 200]]",
         "polygon_px: a line zone is a segment: exactly 2 points [[x, y], [x, y]], got 3"),
        ("[[600, 130], [768, 120]]", "[[600, 130]]",
         "polygon_px: a line zone is a segment: exactly 2 points [[x, y], [x, y]], got 1"),
        ("[[600, 130], [768, 120]]", "[[600, 130], [600, 130]]",
         "polygon_px: a line zone needs two different points, got [600.0, 130.0] twice"),
        ("direction: right_to_left", "direction: inwards",
         "direction: Input should be 'left_to_right', 'right_to_left' or 'both'"),
        ("labels: [vehicle]", "labels: [stall]", "labels[0]: Input should be 'vehicle' or 'person'"),
        ("cooldown_seconds: 10", "min_seconds: 10",
         "min_seconds: unknown key here (other sections or zone kinds have it: "
         "cameras[].zones[] of kind crowd, occupation or fire; policies.crowd_thresholds.<name>[])"),
    ],
)  # fmt: skip
def test_line_zone_problems_name_the_key(site: Path, old: str, new: str, problem: str) -> None:
    _uncomment_line_zone(site)
    line = _edit(site, old, new)
    assert config_problems(site, checks=[site_camera_problems]) == [
        f"site.yaml:{line}: cameras[0].zones[3].{problem}"
    ]


def test_a_line_zone_outside_the_frame_is_refused(site: Path) -> None:
    _uncomment_line_zone(site)
    _edit(site, "[[600, 130], [768, 120]]", "[[600, 130], [800, 120]]")
    [problem] = config_problems(site, checks=[site_camera_problems])
    assert problem.endswith(
        "cameras[0].zones: zone 'fire-lane-entrance' has vertices outside the 768×576 frame: 1 (800.0, 120.0)"
    )
