"""The centre's side of camera-verified closure: what it asks the camera, and what it does with the answer.

The camera's answers are handed to the centre's intake as the analysis role would send them; the steps a
person takes go through the HTTP API. The real video's runs are tests/api/test_camera_verification.py.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest

from api.auth import hash_password
from api.site import DEMO_PASSWORD
from models.clock import ManualClock
from models.link import ZoneReport, ZoneVerdict
from models.records import EventKind, EvidenceBlob, IncidentState, Post
from models.store import Store
from models.store.users import UserRecord
from router.centre.verifier import ANSWER_SLACK, CLEAR_WINDOWS, Pending
from router.lifecycle import TRANSITIONS, Action
from router.permissions import CAMERA, Actor, Case, NotAllowed, check
from tests.rig import T0, Rig, crowd_output, demo_rig

JPEG = EvidenceBlob("snapshot", "image/jpeg", "ab" * 32, b"\xff\xd8 a camera frame")


@pytest.fixture
async def rig(store: Store) -> AsyncIterator[Rig]:
    built = await demo_rig(store)
    yield built
    await built.stop()


async def resolved(rig: Rig, kind: EventKind = EventKind.CROWD) -> tuple[uuid.UUID, Pending]:
    """A case the camera opened, resolved by its worker w001 over HTTP; returns it and the camera's watch."""
    report = crowd_output(100)
    report = replace(report, event=replace(report.event, kind=kind))
    opened = await rig.report(report)
    assert opened is not None
    incident_id = opened[0]
    worker = await rig.client("w001")
    for action in ("accept", "start", "resolve"):
        r = await worker.post(f"/api/incidents/{incident_id}/transitions", json={"action": action})
        assert r.status_code == 200, r.text
    assert rig.centre.verifier is not None
    return incident_id, rig.centre.verifier.pending.get(incident_id)  # type: ignore[return-value]


def answer(watch: Pending, incident_id: uuid.UUID, verdict: ZoneVerdict, rig: Rig) -> ZoneReport:
    snapshot = None if verdict is ZoneVerdict.UNAVAILABLE else JPEG
    return ZoneReport(
        watch.watch_id, incident_id, watch.camera_id, verdict, rig.clock.now(), snapshot, "test"
    )


async def test_resolving_asks_the_camera_to_watch_the_zone_for_the_kinds_window(rig: Rig) -> None:
    _, watch = await resolved(rig)
    assert (watch.camera_id, watch.zone_name) == ("cam-dongguan-road", "road")
    assert watch.due == rig.clock.now() + CLEAR_WINDOWS[EventKind.CROWD] + ANSWER_SLACK
    assert rig.analysis.watches.on("cam-dongguan-road")  # the node holds the same watch


async def test_kinds_a_camera_cannot_judge_are_left_to_a_person(rig: Rig) -> None:
    _, watch = await resolved(rig, EventKind.FALL)
    assert watch is None and not rig.analysis.watches.on("cam-dongguan-road")


async def test_clear_verifies_as_the_camera_with_the_snapshot(rig: Rig) -> None:
    incident_id, watch = await resolved(rig)
    await rig.link.publish(answer(watch, incident_id, ZoneVerdict.CLEAR, rig))
    assert (await rig.store.incidents.get(incident_id)).state is IncidentState.VERIFIED
    entry = (await rig.store.incidents.log(incident_id))[-1]
    assert (entry.action, entry.actor, entry.note) == ("verify", "camera", "test")
    [attachment] = entry.attachments
    found = await rig.store.attachments.get(attachment)
    assert found is not None and found[1] == JPEG.data


async def test_present_reopens_for_the_same_worker_on_fresh_deadlines(rig: Rig) -> None:
    incident_id, watch = await resolved(rig)
    assert isinstance(rig.clock, ManualClock)
    rig.clock.advance(60)
    await rig.link.publish(answer(watch, incident_id, ZoneVerdict.PRESENT, rig))
    reopened = await rig.store.incidents.get(incident_id)
    assert reopened.state is IncidentState.REOPENED and reopened.assignee_id == "w001"
    entry = (await rig.store.incidents.log(incident_id))[-1]
    assert (entry.action, entry.actor, len(entry.attachments)) == ("reopen", "camera", 1)
    due = await rig.store.pool.fetch(
        "SELECT due_at FROM timers WHERE incident_id = $1 AND cancelled_at IS NULL AND fired_at IS NULL",
        incident_id,
    )
    assert due and all(d["due_at"] > rig.clock.now() for d in due)


async def test_a_recurrence_that_opened_its_own_case_is_folded_in_and_the_case_reopened(rig: Rig) -> None:
    incident_id, watch = await resolved(rig)
    again = crowd_output(100)
    twin = await rig.report(replace(again, event=replace(again.event, id=uuid.uuid4(), started_at=T0)))
    assert twin is not None and twin[1] and twin[0] != incident_id
    await rig.link.publish(answer(watch, incident_id, ZoneVerdict.PRESENT, rig))
    assert (await rig.store.incidents.get(incident_id)).state is IncidentState.REOPENED
    assert (await rig.store.incidents.get(twin[0])).state is IncidentState.REJECTED
    assert len(await rig.store.incidents.events(incident_id)) == 2


async def test_a_camera_that_cannot_answer_leaves_the_case_to_a_person(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    incident_id, watch = await resolved(rig)
    with caplog.at_level(logging.WARNING, "router.centre.verifier"):
        await rig.link.publish(answer(watch, incident_id, ZoneVerdict.UNAVAILABLE, rig))
    assert (await rig.store.incidents.get(incident_id)).state is IncidentState.RESOLVED
    assert f"incident {incident_id} stays resolved for a person to verify" in caplog.text
    command = await rig.client("command")
    r = await command.post(f"/api/incidents/{incident_id}/transitions", json={"action": "verify"})
    assert r.status_code == 200, r.text


async def test_an_overdue_answer_is_given_up_and_a_late_one_dropped(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    incident_id, watch = await resolved(rig)
    assert rig.centre.verifier is not None and isinstance(rig.clock, ManualClock)
    rig.clock.advance((CLEAR_WINDOWS[EventKind.CROWD] + ANSWER_SLACK - timedelta(seconds=1)).total_seconds())
    assert rig.centre.verifier.expire() == []
    rig.clock.advance(1)
    with caplog.at_level(logging.WARNING, "router.centre.verifier"):
        assert rig.centre.verifier.expire() == [incident_id]
    assert "did not answer" in caplog.text
    await rig.link.publish(answer(watch, incident_id, ZoneVerdict.CLEAR, rig))
    assert (await rig.store.incidents.get(incident_id)).state is IncidentState.RESOLVED


async def test_an_answer_after_a_person_verified_changes_nothing(rig: Rig) -> None:
    incident_id, watch = await resolved(rig)
    command = await rig.client("command")
    r = await command.post(f"/api/incidents/{incident_id}/transitions", json={"action": "verify"})
    assert r.status_code == 200, r.text
    await rig.link.publish(answer(watch, incident_id, ZoneVerdict.PRESENT, rig))
    assert (await rig.store.incidents.get(incident_id)).state is IncidentState.VERIFIED
    assert (await rig.store.incidents.log(incident_id))[-1].actor == "command"


async def test_a_second_resolution_drops_the_first_watchs_answer(rig: Rig) -> None:
    incident_id, first = await resolved(rig)
    await rig.link.publish(answer(first, incident_id, ZoneVerdict.PRESENT, rig))
    command, worker = await rig.client("command"), await rig.client("w001")
    r = await command.post(f"/api/incidents/{incident_id}/transitions", json={"action": "dispatch"})
    assert r.status_code == 200, r.text
    for action in ("accept", "start", "resolve"):
        r = await worker.post(f"/api/incidents/{incident_id}/transitions", json={"action": action})
        assert r.status_code == 200, r.text
    assert rig.centre.verifier is not None
    second = rig.centre.verifier.pending[incident_id]
    assert second.watch_id != first.watch_id
    await rig.link.publish(answer(first, incident_id, ZoneVerdict.CLEAR, rig))  # stale
    assert (await rig.store.incidents.get(incident_id)).state is IncidentState.RESOLVED
    await rig.link.publish(answer(second, incident_id, ZoneVerdict.CLEAR, rig))
    assert (await rig.store.incidents.get(incident_id)).state is IncidentState.VERIFIED


def test_the_system_may_only_verify_or_reopen_a_resolved_case() -> None:
    for state, action in TRANSITIONS:
        case = Case(state, "w001", "w001")
        if state is IncidentState.RESOLVED and action in (Action.VERIFY, Action.REOPEN):
            check(CAMERA, action, case)  # the resolver is a person: the camera may judge their work
        else:
            with pytest.raises(NotAllowed):
                check(CAMERA, action, case)


async def test_no_signed_in_user_acts_under_the_cameras_name(rig: Rig) -> None:
    await rig.store.users.upsert(
        UserRecord(
            "camera", "camera", hash_password(DEMO_PASSWORD), Post.COUNTY_COMMAND.value, "379901", None, False
        )
    )
    incident_id, _ = await resolved(rig)
    impostor = await rig.client("camera")
    r = await impostor.post(f"/api/incidents/{incident_id}/transitions", json={"action": "verify"})
    assert r.status_code == 403 and "system's name" in r.json()["detail"]
    with pytest.raises(NotAllowed):
        check(
            Actor("camera", Post.COUNTY_COMMAND), Action.VERIFY, Case(IncidentState.RESOLVED, "w001", "w001")
        )
