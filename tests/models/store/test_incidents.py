"""store.incidents: a transition applies only from the state its caller read; pages select by unit subtree."""

from __future__ import annotations

import pytest

from models.incidents import IncidentFilter, LogEntry
from models.records import IncidentState
from models.store import StaleVersion, Store
from tests.models.store.samples import T0, crowd_event, crowd_opening, sample_grid


async def test_transition_from_a_stale_state_is_refused(store: Store) -> None:
    await store.grids.replace([sample_grid()])
    incident_id, _ = await store.events.record(crowd_event(), crowd_opening())
    with pytest.raises(StaleVersion):
        await store.incidents.apply(
            LogEntry(incident_id, IncidentState.ACCEPTED, IncidentState.IN_PROGRESS, "start", "w001", T0)
        )


async def test_incident_filter_by_unit_subtree(store: Store) -> None:
    await store.grids.replace([sample_grid()])
    await store.events.record(crowd_event(), crowd_opening())
    inside, n_inside = await store.incidents.page(IncidentFilter(unit_prefix="379901001"))
    outside, n_outside = await store.incidents.page(IncidentFilter(unit_prefix="379901002"))
    assert (len(inside), n_inside, len(outside), n_outside) == (1, 1, 0, 0)
    assert [unit.name for unit in inside[0].chain].count("东关社区") == 1
