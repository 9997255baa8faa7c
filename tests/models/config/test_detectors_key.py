"""detectors: is the section of the detector weights; site files that still say models: keep working."""

from __future__ import annotations

import json
from pathlib import Path

from models.config import SiteConfig, config_problems, load_site_config
from tests.models.config.site_file import edit


def test_a_file_with_the_old_models_key_loads_without_a_word(site: Path) -> None:
    edit(site, "\ndetectors:\n", "\nmodels:\n")
    edit(site, "every_seconds: 2 ", "every_seconds: 3 ")
    assert config_problems(site) == []
    config = load_site_config(site)
    assert (config.detectors.person.imgsz, config.detectors.fire.every_seconds) == (640, 3.0)


def test_a_problem_under_the_old_key_is_reported_under_the_name_the_file_uses(site: Path) -> None:
    edit(site, "\ndetectors:\n", "\nmodels:\n")
    typo = edit(site, "every_seconds: 2 ", "every_second: 2 ")
    value = edit(site, "imgsz: 640", "imgsz: 600")
    assert config_problems(site) == [
        f"site.yaml:{value}: models.person.imgsz: must be a multiple of 32, got 600",
        f"site.yaml:{typo}: models.fire.every_second: unknown key (did you mean 'every_seconds'?)",
    ]


def test_both_keys_at_once_is_one_problem(site: Path) -> None:
    text = site.read_text(encoding="utf-8")
    line = text.count("\n") + 1
    # Even a broken value under the old key adds nothing: it is the key itself that must go.
    site.write_text(text + "models:\n  fire: {every_seconds: -1}\n", encoding="utf-8")
    assert config_problems(site) == [
        f"site.yaml:{line}: models: old name of detectors, which is given too: keep only detectors"
    ]


def test_the_schema_documents_detectors_only() -> None:
    schema = SiteConfig.model_json_schema()
    assert "detectors" in schema["properties"] and "models" not in schema["properties"]
    assert "DetectorsSection" in schema["$defs"]
    assert "models." not in json.dumps(schema)
