"""Property tests of the pure router core: duty coverage, the incident state machine, dedup keys."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from models.records import EventKind, IncidentState, Role, Shift
from router.dedup import dedup_key, ground_cell
from router.duty import covers
from router.lifecycle import Action, IllegalTransition, allowed_actions, next_state

minutes = st.integers(min_value=0, max_value=1439)
weekday_sets = st.frozensets(st.integers(min_value=1, max_value=7), min_size=1)
instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31))


def _covered_by_definition(shift: Shift, local: datetime) -> bool:
    """FORMATS.md read literally: a shift starts on one of its weekdays and lasts to its end, [start, end)."""
    length = (shift.end_minute - shift.start_minute) % 1440 or 1440
    minute_of_day = local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 60e6
    for days_back in (0, 1):
        started_on = (local - timedelta(days=days_back)).isoweekday()
        elapsed = days_back * 1440 + minute_of_day - shift.start_minute
        if started_on in shift.weekdays and 0 <= elapsed < length:
            return True
    return False


@settings(max_examples=3000)
@given(start=minutes, end=st.integers(min_value=0, max_value=1440), weekdays=weekday_sets, local=instants)
def test_shift_coverage_matches_the_format_definition(
    start: int, end: int, weekdays: frozenset[int], local: datetime
) -> None:
    shift = Shift("w1", "n", "p", Role.GRID_WORKER, "379901001001001", weekdays, start, end)
    assert covers(shift, local) == _covered_by_definition(shift, local)


@settings(max_examples=500)
@given(st.lists(st.sampled_from(list(Action)), max_size=30))
def test_state_machine_only_moves_along_its_table(actions: list[Action]) -> None:
    state = IncidentState.REPORTED
    for action in actions:
        if action in allowed_actions(state):
            state = next_state(state, action)
        else:
            try:
                next_state(state, action)
            except IllegalTransition as exc:
                assert state.value in str(exc) and action.value in str(exc)
            else:
                raise AssertionError(f"{action} from {state} was not refused")
    assert isinstance(state, IncidentState)


def test_closed_incidents_can_only_be_evaluated_or_reopened() -> None:
    assert allowed_actions(IncidentState.CLOSED) == (Action.EVALUATE, Action.REOPEN)


lon = st.floats(min_value=73.5, max_value=134.7, allow_nan=False)
lat = st.floats(min_value=18.0, max_value=53.5, allow_nan=False)


@given(lon=lon, lat=lat, kind_a=st.sampled_from(list(EventKind)), kind_b=st.sampled_from(list(EventKind)))
def test_dedup_keys_separate_kinds_and_units_but_not_nearby_sightings(
    lon: float, lat: float, kind_a: EventKind, kind_b: EventKind
) -> None:
    key = dedup_key("379901001001001", kind_a, (lon, lat))
    assert key == dedup_key("379901001001001", kind_a, (lon, lat))
    assert (key == dedup_key("379901001001001", kind_b, (lon, lat))) == (kind_a is kind_b)
    assert key != dedup_key("379901001001002", kind_a, (lon, lat))
    # A sighting a metre away lands in the same 100 m cell unless the point sits on a cell edge.
    nearby = (lon + 1e-5, lat)
    same = ground_cell((lon, lat), 100.0) == ground_cell(nearby, 100.0)
    assert same or ground_cell((lon - 1e-5, lat), 100.0) == ground_cell((lon, lat), 100.0)
