"""Where SQL must repeat a Python policy, the two say the same thing, value by value.

Open states (models.records.OPEN_STATES) are the dedup index's predicate, gridwatch_open_state; the
states in which a deadline still guards a step (router.deadlines.is_pending) are the cancel trigger's
gridwatch_timer_pending; the timer kinds are the timers table's CHECK. Migration 0006 writes each once.
"""

from __future__ import annotations

import re

import pytest

from models.records import OPEN_STATES, IncidentState
from models.store import Store
from router.deadlines import TimerKind, is_pending


async def test_the_dedup_predicate_is_open_states(store: Store) -> None:
    for state in IncidentState:
        in_sql = await store.pool.fetchval("SELECT gridwatch_open_state($1)", state.value)
        assert in_sql is (state in OPEN_STATES), state


async def test_the_dedup_index_and_the_upsert_name_the_one_predicate(store: Store) -> None:
    index = await store.pool.fetchval("SELECT pg_get_indexdef('incidents_open_dedup'::regclass)")
    assert index.startswith(
        "CREATE UNIQUE INDEX incidents_open_dedup ON public.incidents USING btree (dedup_key)"
    )
    assert index.endswith("WHERE gridwatch_open_state(state)")


@pytest.mark.parametrize("kind", list(TimerKind))
async def test_the_cancel_trigger_keeps_exactly_the_pending_timers(store: Store, kind: TimerKind) -> None:
    for state in IncidentState:
        in_sql = await store.pool.fetchval("SELECT gridwatch_timer_pending($1, $2)", kind.value, state.value)
        assert in_sql is is_pending(kind, state), (kind, state)


async def test_the_trigger_asks_the_pending_function(store: Store) -> None:
    body = await store.pool.fetchval("SELECT prosrc FROM pg_proc WHERE proname = 'gridwatch_cancel_timers'")
    assert "NOT gridwatch_timer_pending(kind, NEW.state)" in body


async def test_the_timers_table_takes_every_timer_kind_and_no_other(store: Store) -> None:
    check = await store.pool.fetchval(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = 'timers'::regclass AND contype = 'c'"
    )
    assert set(re.findall(r"'(\w+)'::text", check)) == {k.value for k in TimerKind}
