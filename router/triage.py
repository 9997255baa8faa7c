"""How bad an event is, which tier coordinates it and which department owns it.

The table is data, not code: a county with its own classification passes a TriageTable built from
its mapping, and the rest of the router does not change.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from types import MappingProxyType

from models.records import EventKind, GridKind, Severity, Tier, Triage

DEFAULT_TRIAGE: Mapping[EventKind, Triage] = MappingProxyType(
    {
        EventKind.FIRE: Triage(Severity.CRITICAL, Tier.TOWNSHIP, "消防/应急", "GW-FIRE-01"),
        EventKind.SMOKE: Triage(Severity.HIGH, Tier.COMMUNITY, "消防/应急", "GW-SMOKE-01"),
        EventKind.OCCUPATION: Triage(Severity.MEDIUM, Tier.GRID, "城管", "GW-OCCUPY-01"),
        EventKind.CROWD: Triage(Severity.HIGH, Tier.COMMUNITY, "综治/公安", "GW-CROWD-01"),
        EventKind.FALL: Triage(Severity.HIGH, Tier.GRID, "综治/卫健", "GW-FALL-01"),
        # A line zone guards a fire-lane entrance: a vehicle driving in is occupation in the making, and the
        # fire brigade needs to know its access may be blocked.
        EventKind.LINE_CROSSING: Triage(Severity.MEDIUM, Tier.GRID, "城管/消防", "GW-FIRELANE-01"),
        EventKind.CAMERA_OFFLINE: Triage(Severity.LOW, Tier.COUNTY, "运维", "GW-CAMERA-01"),
        # A tampered camera is blind on purpose, perhaps ahead of something it should have seen.
        EventKind.CAMERA_TAMPER: Triage(Severity.MEDIUM, Tier.COUNTY, "运维", "GW-CAMERA-02"),
        # A cut uplink blinds a whole township at the centre: the county's duty pages whoever fixes it.
        EventKind.LINK_DOWN: Triage(Severity.HIGH, Tier.COUNTY, "运维", "GW-LINK-01"),
    }
)

#: Kinds that are worse inside an exclusive grid: a crowd in a market or outside a school can crush.
DEFAULT_EXCLUSIVE_RAISE: frozenset[EventKind] = frozenset({EventKind.CROWD})


class TriageTable:
    def __init__(
        self,
        table: Mapping[EventKind, Triage],
        exclusive_raise: Collection[EventKind] = DEFAULT_EXCLUSIVE_RAISE,
        *,
        exclusive: Mapping[EventKind, Triage] | None = None,
        exclusive_types: Mapping[tuple[EventKind, str], Triage] | None = None,
    ) -> None:
        missing = [kind.value for kind in EventKind if kind not in table]
        if missing:
            raise ValueError(f"triage table has no entry for: {', '.join(missing)}")
        self._table: Mapping[EventKind, Triage] = MappingProxyType(dict(table))
        self.exclusive_raise = frozenset(exclusive_raise)
        #: A kind's row inside any exclusive grid; it replaces the one-severity raise for that kind.
        self.exclusive: Mapping[EventKind, Triage] = MappingProxyType(dict(exclusive or {}))
        #: A kind's row inside exclusive grids of one exclusive_type (market, school…); wins over the above.
        self.exclusive_types: Mapping[tuple[EventKind, str], Triage] = MappingProxyType(
            dict(exclusive_types or {})
        )

    def with_overrides(self, overrides: Mapping[EventKind, Triage]) -> TriageTable:
        return TriageTable(
            {**self._table, **overrides},
            self.exclusive_raise,
            exclusive=self.exclusive,
            exclusive_types=self.exclusive_types,
        )

    def with_exclusive(self, rows: Mapping[EventKind, Triage]) -> TriageTable:
        return TriageTable(
            self._table,
            self.exclusive_raise,
            exclusive={**self.exclusive, **rows},
            exclusive_types=self.exclusive_types,
        )

    def with_exclusive_types(self, rows: Mapping[tuple[EventKind, str], Triage]) -> TriageTable:
        return TriageTable(
            self._table,
            self.exclusive_raise,
            exclusive=self.exclusive,
            exclusive_types={**self.exclusive_types, **rows},
        )

    def triage(
        self, kind: EventKind, grid_kind: GridKind | None, exclusive_type: str | None = None
    ) -> Triage:
        base = self._table[kind]
        if grid_kind is not GridKind.EXCLUSIVE:
            return base
        if exclusive_type is not None and (kind, exclusive_type) in self.exclusive_types:
            return self.exclusive_types[(kind, exclusive_type)]
        if kind in self.exclusive:
            return self.exclusive[kind]
        if kind in self.exclusive_raise:
            return replace(base, severity=Severity(min(base.severity + 1, Severity.CRITICAL)))
        return base


DEFAULT_TABLE = TriageTable(DEFAULT_TRIAGE)


def triage(kind: EventKind, grid_kind: GridKind | None) -> Triage:
    """Triage with the default table."""
    return DEFAULT_TABLE.triage(kind, grid_kind)
