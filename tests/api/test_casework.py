"""The loop through the API: who may take which step (the post × action × state table, cell by cell),
what a step needs, and the deadlines every hand-over starts again."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from api.auth import hash_password
from api.site import DEMO_PASSWORD
from models.records import IncidentState, Post
from models.store import Store, UserRecord
from router.lifecycle import REASONS, TRANSITIONS, Action
from router.permissions import allowed
from tests.rig import T0, Rig, crowd_output, demo_rig

#: One signed-in user per post, all of whom see grid 379901001001001 (w001's, where the incidents open).
USERS = {
    Post.GRID_WORKER: "w001",
    Post.GRID_LEADER: "leader",
    Post.COMMUNITY: "community",
    Post.TOWNSHIP: "chengguan",
    Post.COUNTY_COMMAND: "command",
    Post.ADMIN: "admin",
}
#: Everything any step may need, so that a refusal can only be the table's.
COMPLETE = {
    Action.RETURN_: {"reason": "not_my_grid"},
    Action.REJECT: {"reason": "false_alarm"},
    Action.EVALUATE: {"rating": 4},
    Action.REASSIGN: {"assignee_id": "w002"},
}


@pytest.fixture
async def rig(store: Store) -> AsyncIterator[Rig]:
    built = await demo_rig(store)
    password = hash_password(DEMO_PASSWORD)
    for username, post, unit, worker in (
        ("leader", Post.GRID_LEADER, "379901001001001", "w008"),
        ("community", Post.COMMUNITY, "379901001001", "w010"),
    ):
        await store.users.upsert(UserRecord(username, username, password, post.value, unit, worker, False))
    yield built
    await built.stop()


async def incident_in(rig: Rig, state: IncidentState) -> uuid.UUID:
    """A crowd incident of w001's grid, assigned to w001, put straight into ``state``."""
    report = crowd_output(100)
    draft = rig.centre.routing.route(report.event, at=T0)
    incident_id, _ = await rig.store.events.record(
        replace(report.event, id=uuid.uuid4()), replace(draft.opening(), dedup_key=uuid.uuid4().hex)
    )
    await rig.store.pool.execute("UPDATE incidents SET state = $2 WHERE id = $1", incident_id, state.value)
    return incident_id


async def step(
    client: httpx.AsyncClient, incident_id: uuid.UUID, action: Action, **body: object
) -> httpx.Response:
    return await client.post(
        f"/api/incidents/{incident_id}/transitions",
        json={"action": action.value, **COMPLETE.get(action, {}), **body},
    )


@pytest.mark.parametrize("post", list(Post))
async def test_every_cell_of_the_table_is_allowed_or_403(rig: Rig, post: Post) -> None:
    client = await rig.client(USERS[post])
    wrong: list[str] = []
    try:
        for state in IncidentState:
            shared = await incident_in(rig, state)  # refusals leave it as it is
            for action in Action:
                expected = allowed(post, action, state)
                incident_id = await incident_in(rig, state) if expected else shared
                response = await step(client, incident_id, action)
                if response.status_code != (200 if expected else 403):
                    wrong.append(
                        f"{state.value} {action.value}: {response.status_code} {response.text[:120]}"
                    )
    finally:
        await client.aclose()
    assert wrong == []


async def test_the_table_cells_the_issue_names(rig: Rig) -> None:
    assert allowed(Post.GRID_WORKER, Action.DEPART, IncidentState.ACCEPTED)
    assert not allowed(Post.GRID_WORKER, Action.VERIFY, IncidentState.RESOLVED)
    assert not allowed(Post.GRID_LEADER, Action.CLOSE, IncidentState.VERIFIED)
    assert allowed(Post.COUNTY_COMMAND, Action.CLOSE, IncidentState.VERIFIED)
    assert not any(allowed(Post.ADMIN, action, state) for (state, action) in TRANSITIONS)


async def test_the_worker_who_did_the_work_can_neither_verify_nor_close_it(rig: Rig) -> None:
    """Finding of 2026-12-04: w001's own token took accept → start → resolve → verify → close, all 200."""
    result = await rig.report(crowd_output(100))
    assert result is not None
    worker = await rig.client("w001")
    try:
        for action in (Action.ACCEPT, Action.START, Action.RESOLVE):
            assert (await step(worker, result[0], action)).status_code == 200
        verify = await step(worker, result[0], Action.VERIFY)
        assert verify.status_code == 403 and "grid_worker cannot verify" in verify.json()["detail"]
        assert (await step(worker, result[0], Action.CLOSE)).status_code == 403
    finally:
        await worker.aclose()
    assert (await rig.store.incidents.get(result[0])).state is IncidentState.RESOLVED


async def test_whoever_resolved_a_case_never_verifies_it(rig: Rig) -> None:
    result = await rig.report(crowd_output(100))
    assert result is not None
    worker = await rig.client("w001")
    for action in (Action.ACCEPT, Action.START, Action.RESOLVE):
        assert (await step(worker, result[0], action)).status_code == 200
    await worker.aclose()
    # w001 is made grid leader: their post may verify, but not the case they resolved themselves.
    await rig.store.users.upsert(
        UserRecord(
            "w001", "王芳", hash_password(DEMO_PASSWORD), "grid_leader", "379901001001001", "w001", False
        )
    )
    promoted = await rig.client("w001")
    try:
        detail = (await promoted.get(f"/api/incidents/{result[0]}")).json()
        assert "verify" not in detail["actions"]
        refused = await step(promoted, result[0], Action.VERIFY)
        assert refused.status_code == 403 and "whoever resolved a case may not verify it" in refused.text
    finally:
        await promoted.aclose()
    leader = await rig.client("leader")
    try:
        assert (await step(leader, result[0], Action.VERIFY)).status_code == 200
    finally:
        await leader.aclose()


async def test_a_worker_handles_only_the_cases_dispatched_to_them(rig: Rig) -> None:
    result = await rig.report(crowd_output(100))  # w001's
    assert result is not None
    await rig.store.users.upsert(
        UserRecord(
            "w002", "李强", hash_password(DEMO_PASSWORD), "grid_worker", "379901001001001", "w002", False
        )
    )
    other = await rig.client("w002")
    try:
        refused = await step(other, result[0], Action.ACCEPT)
        assert refused.status_code == 403 and "dispatched to them" in refused.json()["detail"]
        listed = (await other.get(f"/api/incidents/{result[0]}")).json()
        assert listed["actions"] == []
    finally:
        await other.aclose()


async def test_pages_are_offered_exactly_the_allowed_steps(rig: Rig) -> None:
    result = await rig.report(crowd_output(100))
    assert result is not None
    offered = {}
    for post, username in USERS.items():
        client = await rig.client(username)
        try:
            [item] = (await client.get("/api/incidents")).json()["items"]
            detail = (await client.get(f"/api/incidents/{result[0]}")).json()
        finally:
            await client.aclose()
        assert item["actions"] == detail["actions"]
        offered[post] = item["actions"]
    assert offered == {
        Post.GRID_WORKER: ["accept", "return"],
        Post.GRID_LEADER: ["reassign"],
        Post.COMMUNITY: ["reassign"],
        Post.TOWNSHIP: ["reassign", "escalate"],
        Post.COUNTY_COMMAND: ["reassign", "escalate"],
        Post.ADMIN: [],
    }


@pytest.mark.parametrize(
    ("action", "body", "message"),
    [
        (Action.RETURN_, {"reason": None}, "return needs a reason, one of wrong_place"),
        (Action.RETURN_, {"reason": "tired"}, "return needs a reason"),
        (Action.REASSIGN, {"assignee_id": None}, "reassign needs assignee_id"),
        (Action.REASSIGN, {"assignee_id": "w999"}, "no worker 'w999' in the roster"),
    ],
)
async def test_a_step_without_what_it_needs_is_422(
    rig: Rig, action: Action, body: dict, message: str
) -> None:  # type: ignore[type-arg]
    incident_id = await incident_in(rig, IncidentState.DISPATCHED)
    username = "w001" if action is Action.RETURN_ else "leader"
    client = await rig.client(username)
    try:
        response = await step(client, incident_id, action, **body)
    finally:
        await client.aclose()
    assert response.status_code == 422 and message in response.json()["detail"]
    assert (await rig.store.incidents.get(incident_id)).state is IncidentState.DISPATCHED


async def _live_timers(rig: Rig, incident_id: uuid.UUID) -> dict[str, object]:
    return {
        t.kind: t.due_at
        for t in await rig.store.timers.of_incident(incident_id)
        if t.fired_at is None and t.cancelled_at is None
    }


async def test_a_returned_case_dispatched_again_runs_on_fresh_deadlines(rig: Rig) -> None:
    """Finding of 2026-12-04: a returned case dispatched again had no live deadline timer at all."""
    result = await rig.report(crowd_output(100))
    assert result is not None
    worker, leader = await rig.client("w001"), await rig.client("leader")
    try:
        assert (await step(worker, result[0], Action.RETURN_)).status_code == 200
        assert await _live_timers(rig, result[0]) == {}
        rig.clock.advance(3600)  # type: ignore[attr-defined]
        dispatched = await step(leader, result[0], Action.DISPATCH)
        assert dispatched.status_code == 200, dispatched.text
    finally:
        await worker.aclose()
        await leader.aclose()
    incident = await rig.store.incidents.get(result[0])
    now = T0 + timedelta(hours=1)
    # Severity HIGH: accept 10 min, arrive 30 min, resolve 4 h, counted from the new dispatch.
    assert await _live_timers(rig, result[0]) == {
        "accept": now + timedelta(minutes=10),
        "arrive": now + timedelta(minutes=30),
        "resolve": now + timedelta(hours=4),
    }
    assert incident.accept_by == now + timedelta(minutes=10)
    assert incident.assignee_id == "w001"  # on duty for the grid at 11:00


async def test_reassigning_hands_over_and_starts_the_clocks_again(rig: Rig) -> None:
    result = await rig.report(crowd_output(100))
    assert result is not None
    leader = await rig.client("leader")
    rig.clock.advance(600)  # type: ignore[attr-defined]
    try:
        response = await step(leader, result[0], Action.REASSIGN, note="王芳请假")
    finally:
        await leader.aclose()
    assert response.status_code == 200, response.text
    moved = response.json()
    assert (moved["state"], moved["assignee"]["worker_id"]) == ("dispatched", "w002")
    timers = await rig.store.timers.of_incident(result[0])
    assert sorted((t.kind, t.outcome) for t in timers if t.outcome == "superseded") == [
        ("accept", "superseded"),
        ("arrive", "superseded"),
        ("resolve", "superseded"),
    ]
    assert (await _live_timers(rig, result[0]))["accept"] == T0 + timedelta(minutes=20)
    log = await rig.store.incidents.log(result[0])
    assert (log[-1].action, log[-1].actor, log[-1].note) == ("reassign", "w008", "王芳请假")


async def test_escalating_by_hand_goes_up_the_duty_chain(rig: Rig) -> None:
    result = await rig.report(crowd_output(100))
    assert result is not None
    township = await rig.client("chengguan")
    try:
        response = await step(township, result[0], Action.ESCALATE)
    finally:
        await township.aclose()
    assert response.status_code == 200, response.text
    assert response.json()["assignee"]["worker_id"] == "w008"  # the grid leader on duty above w001
    assert response.json()["state"] == "dispatched"


async def test_reopening_while_the_recurrence_is_open_names_it(rig: Rig) -> None:
    """Finding of 2026-12-04: reopening a closed incident whose recurrence had opened a twin answered 500."""
    first = await rig.report(crowd_output(100))
    assert first is not None
    await rig.store.pool.execute("UPDATE incidents SET state = 'closed' WHERE id = $1", first[0])
    twin = await rig.report(crowd_output(100))  # the same place again: a new incident, the key being free
    assert twin is not None and twin[1] and twin[0] != first[0]
    command = await rig.client("command")
    try:
        response = await step(command, first[0], Action.REOPEN)
    finally:
        await command.aclose()
    assert response.status_code == 409
    assert str(twin[0]) in response.json()["detail"]
    assert (await rig.store.incidents.get(first[0])).state is IncidentState.CLOSED


async def test_evaluating_a_closed_case_keeps_the_rating(rig: Rig) -> None:
    incident_id = await incident_in(rig, IncidentState.CLOSED)
    leader = await rig.client("leader")
    try:
        assert (await step(leader, incident_id, Action.EVALUATE, rating=6)).status_code == 422
        assert (
            await step(leader, incident_id, Action.EVALUATE, rating=5, note="处置及时")
        ).status_code == 200
    finally:
        await leader.aclose()
    last = (await rig.store.incidents.log(incident_id))[-1]
    assert (last.action, last.rating, last.note) == ("evaluate", 5, "处置及时")


async def test_return_reasons_are_recorded_and_listed(rig: Rig) -> None:
    incident_id = await incident_in(rig, IncidentState.DISPATCHED)
    worker = await rig.client("w001")
    try:
        rules = (await worker.get("/api/casework")).json()
        assert set(rules["reasons"]["return"]) == set(REASONS[Action.RETURN_])
        assert rules["posts"]["grid_worker"] == sorted(["accept", "depart", "start", "resolve", "return"])
        assert (await step(worker, incident_id, Action.RETURN_, reason="wrong_place")).status_code == 200
    finally:
        await worker.aclose()
    assert (await rig.store.incidents.log(incident_id))[-1].reason == "wrong_place"
