"""The policies: section of the site file: each mistake reported at its line and path, in words a county
administrator can act on, like every other section."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.config import config_problems, load_site_config
from router.imports.cameras import site_camera_problems
from router.policies import policy_problems
from tests.models.config.site_file import EXAMPLE, edit

CHECKS = [site_camera_problems, policy_problems]


def test_the_example_shows_the_section_and_is_valid() -> None:
    assert config_problems(EXAMPLE, checks=CHECKS) == []
    policies = load_site_config(EXAMPLE).policies
    assert policies.triage.crowd is not None and policies.triage.crowd.department == "综治/公安"


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        # An unknown severity, tier or kind.
        ("      severity: high ", "      severity: urgent ",
         "policies.triage.crowd.severity: Input should be 'low', 'medium', 'high' or 'critical'"),
        ("      tier: community ", "      tier: village ",
         "policies.triage.crowd.tier: Input should be 'grid', 'community', 'township' or 'county'"),
        ("    occupation: {severity", "    flood: {severity",
         "policies.triage.flood: unknown key"),
        ("    crowd: {file_above", "    crwod: {file_above",
         "policies.filing.crwod: unknown key (did you mean 'crowd'?)"),
        ("    critical: {accept", "    urgent: {accept",
         "policies.deadlines.urgent: unknown key"),
        # A severity written under triage is a key of deadlines: said where it belongs.
        ("    occupation: {severity", "    high: {severity",
         "policies.triage.high: unknown key here (other sections or zone kinds have it: policies.deadlines)"),
        # Negative, zero and out-of-range numbers.
        ("high: {accept_minutes: 10", "high: {accept_minutes: -10",
         "policies.deadlines.high.accept_minutes: Input should be greater than 0"),
        ("{file_above: 0}", "{file_above: 1.5}",
         "policies.filing.crowd.file_above: Input should be less than or equal to 1"),
        ("offline_after_seconds: 300", "offline_after_seconds: 0",
         "policies.offline_after_seconds: Input should be greater than 0"),
        ("dedup_cell_m: 100", "dedup_cell_m: 0.5",
         "policies.dedup_cell_m: Input should be greater than or equal to 1"),
        ("snap_m: 50", "snap_m: -1", "policies.snap_m: Input should be greater than or equal to 0"),
        # Steps out of order within one row, and against a default the row leaves as it is.
        ("low: {accept_minutes: 120", "low: {accept_minutes: 600",
         "policies.deadlines.low: accept_minutes (600) is later than arrive_minutes (480): steps come in "
         "order"),
        ("{severity: medium, tier: grid, department: 城管, code: GW-OCCUPY-01}",
         "{severity: medium, tier: grid, department: '', code: GW OCCUPY}",
         "policies.triage.occupation.department: String should have at least 1 character"),
    ],
)  # fmt: skip
def test_each_mistake_names_its_line_and_path(site: Path, old: str, new: str, problem: str) -> None:
    line = edit(site, old, new)
    problems = config_problems(site, checks=CHECKS)
    assert problems and problems[0].startswith(f"site.yaml:{line}: {problem}"), problems


def test_a_window_shortened_below_the_step_before_it_is_refused_after_merging(site: Path) -> None:
    """Only the merged windows show it: resolve within 20 min, but arrive keeps today's 30."""
    line = edit(
        site,
        "high: {accept_minutes: 10, arrive_minutes: 30, resolve_minutes: 240}",
        "high: {resolve_minutes: 20}",
    )
    assert config_problems(site, checks=CHECKS) == [
        f"site.yaml:{line}: policies.deadlines.high: arrive within 30 min is later than resolve within "
        "20 min (keys left out keep today's value): steps come in order"
    ]


def test_every_mistake_of_the_section_is_reported_at_once(site: Path) -> None:
    edit(site, "      severity: high ", "      severity: urgent ")
    edit(site, "high: {accept_minutes: 10", "high: {accept_minutes: -10")
    edit(site, "  dedup_cell_m: 100", "  dedup_cell: 100")
    problems = config_problems(site, checks=CHECKS)
    assert [p.split(": ", 2)[1] for p in problems] == [
        "policies.triage.crowd.severity",
        "policies.deadlines.high.accept_minutes",
        "policies.dedup_cell",
    ]
    assert problems[2].endswith("unknown key (did you mean 'dedup_cell_m'?)")


def test_a_file_without_the_section_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("site: {name: 青河县}\n", encoding="utf-8")
    assert config_problems(path, checks=CHECKS) == []
    assert load_site_config(path).policies.offline_after_seconds == 300
