from __future__ import annotations

import pytest

from models.records import EventKind, GridKind, Severity, Tier, Triage
from router.triage import DEFAULT_TABLE, DEFAULT_TRIAGE, TriageTable, triage


@pytest.mark.parametrize(
    ("kind", "grid_kind", "severity", "tier", "department", "code"),
    [
        (EventKind.FIRE, GridKind.BASIC, Severity.CRITICAL, Tier.TOWNSHIP, "消防/应急", "GW-FIRE-01"),
        (EventKind.FIRE, GridKind.EXCLUSIVE, Severity.CRITICAL, Tier.TOWNSHIP, "消防/应急", "GW-FIRE-01"),
        (EventKind.SMOKE, None, Severity.HIGH, Tier.COMMUNITY, "消防/应急", "GW-SMOKE-01"),
        (EventKind.OCCUPATION, GridKind.BASIC, Severity.MEDIUM, Tier.GRID, "城管", "GW-OCCUPY-01"),
        (EventKind.OCCUPATION, GridKind.EXCLUSIVE, Severity.MEDIUM, Tier.GRID, "城管", "GW-OCCUPY-01"),
        (EventKind.CROWD, GridKind.BASIC, Severity.HIGH, Tier.COMMUNITY, "综治/公安", "GW-CROWD-01"),
        (EventKind.CROWD, None, Severity.HIGH, Tier.COMMUNITY, "综治/公安", "GW-CROWD-01"),
        # A crowd in a market or outside a school is one step worse.
        (EventKind.CROWD, GridKind.EXCLUSIVE, Severity.CRITICAL, Tier.COMMUNITY, "综治/公安", "GW-CROWD-01"),
        (EventKind.FALL, GridKind.BASIC, Severity.HIGH, Tier.GRID, "综治/卫健", "GW-FALL-01"),
        (EventKind.CAMERA_OFFLINE, GridKind.BASIC, Severity.LOW, Tier.COUNTY, "运维", "GW-CAMERA-01"),
    ],
)
def test_default_triage(
    kind: EventKind, grid_kind: GridKind | None, severity: Severity, tier: Tier, department: str, code: str
) -> None:
    assert triage(kind, grid_kind) == Triage(severity, tier, department, code)


def test_every_kind_has_a_default_entry() -> None:
    assert set(DEFAULT_TRIAGE) == set(EventKind)


def test_a_county_can_override_entries_and_the_exclusive_rule() -> None:
    local = DEFAULT_TABLE.with_overrides(
        {EventKind.OCCUPATION: Triage(Severity.LOW, Tier.GRID, "城管执法局", "QH-CG-07")}
    )
    assert local.triage(EventKind.OCCUPATION, GridKind.BASIC).department == "城管执法局"
    assert local.triage(EventKind.FIRE, None) == DEFAULT_TABLE.triage(EventKind.FIRE, None)
    strict = TriageTable(DEFAULT_TRIAGE, exclusive_raise={EventKind.OCCUPATION, EventKind.FALL})
    assert strict.triage(EventKind.OCCUPATION, GridKind.EXCLUSIVE).severity is Severity.HIGH
    assert strict.triage(EventKind.CROWD, GridKind.EXCLUSIVE).severity is Severity.HIGH


def test_an_incomplete_table_is_refused() -> None:
    partial: dict[EventKind, Triage] = {k: v for k, v in DEFAULT_TRIAGE.items() if k is not EventKind.FALL}
    with pytest.raises(ValueError, match="no entry for: fall"):
        TriageTable(partial)
