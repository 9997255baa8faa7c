"""Occupation by anything reaches the running service: the demo's and a site file's occupation zones come
out of the config with the static-mass watch on, through the store, into the analyzer's rules."""

from __future__ import annotations

from pathlib import Path

import yaml

from api.site import configured_site, demo_site
from detect.analysis.analyzer import CameraAnalyzer
from detect.rules import OccupationRule
from models.records import StaticMassSettings, ZoneKind
from models.store import Store

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "site.example.yaml"


def _occupation_rules(analyzer: CameraAnalyzer) -> list[OccupationRule]:
    return [rule for rule in analyzer._rules if isinstance(rule, OccupationRule)]


async def test_the_demo_lane_watches_for_anything_after_a_trip_through_the_store(store: Store) -> None:
    camera = demo_site().cameras[0]
    await store.cameras.upsert([camera])
    stored = await store.cameras.get(camera.id)
    assert stored is not None
    [lane] = [z for z in stored.zones if z.kind is ZoneKind.OCCUPATION]
    assert lane.static_mass == StaticMassSettings()
    [rule] = _occupation_rules(CameraAnalyzer(stored, clips=False))
    assert rule.static is not None and rule.static.zone is lane


def test_a_site_file_can_turn_it_off_per_zone(tmp_path: Path) -> None:
    site = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    site["notifications"] = []
    zones = site["cameras"][0]["zones"]
    [lane] = [z for z in zones if z["kind"] == "occupation"]
    assert lane["static_mass"]["enabled"] is True  # the example documents it
    path = tmp_path / "site.yaml"
    for enabled in (True, False):
        lane["static_mass"]["enabled"] = enabled
        path.write_text(yaml.safe_dump(site, allow_unicode=True), encoding="utf-8")
        data, _ = configured_site(path)
        rules = [r for c in data.cameras for r in _occupation_rules(CameraAnalyzer(c, clips=False))]
        assert rules and all((r.static is not None) is enabled for r in rules)
