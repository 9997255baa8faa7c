"""Evidence retention in the running centre: the oldest evidence of closed cases goes first when over
quota or over age, evidence of open cases never, every prune audited and answered 410 afterwards; under
the free-space floor clips pause while events and snapshots are still recorded."""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import replace
from datetime import timedelta

from models.link import ClipReport
from models.records import EvidenceBlob
from models.store import Store
from router.retention import RetentionPolicy
from tests.rig import T0, Rig, crowd_output, demo_rig


def _clip(n: int, size: int = 100_000) -> EvidenceBlob:
    data = os.urandom(size)
    return EvidenceBlob("clip", "video/mp4", hashlib.sha256(data).hexdigest(), data)


async def _case(rig: Rig, x: float, age_days: int) -> tuple[uuid.UUID, str]:
    """An incident with one clip that is ``age_days`` old; returns (incident id, clip evidence id)."""
    report = crowd_output(x)
    result = await rig.report(report)
    assert result is not None
    clip_id = await rig.centre.intake.attach_clip(ClipReport(report.event.id, _clip(int(x))))
    assert clip_id is not None
    await rig.store.pool.execute(
        "UPDATE evidence SET created_at = $2 WHERE event_id = $1",
        report.event.id,
        T0 - timedelta(days=age_days),
    )
    return result[0], clip_id


async def _close(store: Store, incident_id: uuid.UUID) -> None:
    await store.pool.execute("UPDATE incidents SET state = 'closed' WHERE id = $1", incident_id)


async def _held(store: Store, incident_id: uuid.UUID) -> set[str]:
    rows = await store.pool.fetch(
        "SELECT v.id FROM evidence v JOIN events e ON e.id = v.event_id"
        " WHERE e.incident_id = $1 AND v.pruned_at IS NULL",
        incident_id,
    )
    return {r["id"] for r in rows}


async def test_over_quota_the_oldest_closed_case_goes_first_and_open_cases_keep_theirs(store: Store) -> None:
    rig = await demo_rig(store)
    try:
        # One place: each case is closed before the next opens, so they are three incidents, not one.
        old_closed, old_clip = await _case(rig, 100, age_days=20)
        await _close(store, old_closed)
        new_closed, _ = await _case(rig, 100, age_days=10)
        await _close(store, new_closed)
        open_case, open_clip = await _case(rig, 100, age_days=30)  # the oldest of all, but open
        retention = rig.centre.retention
        assert retention is not None
        holding = await store.retention.holding()
        old_bytes = sum(
            r["size"]
            for r in await store.pool.fetch(
                "SELECT v.size FROM evidence v JOIN events e ON e.id = v.event_id WHERE e.incident_id = $1",
                old_closed,
            )
        )
        retention.policy = RetentionPolicy(days={"default": 0}, quota_bytes=holding.held_bytes - old_bytes)
        assert await retention.run_once() == 3  # the old case's snapshot, clean frame and clip
        assert await _held(store, old_closed) == set()
        assert len(await _held(store, new_closed)) == 3 and len(await _held(store, open_case)) == 3

        # A quota no closed case can meet: every closed case's evidence goes, the open case keeps all.
        retention.policy = RetentionPolicy(days={"default": 0}, quota_bytes=1)
        assert await retention.run_once() == 3
        assert await _held(store, new_closed) == set() and len(await _held(store, open_case)) == 3
        assert retention.guard.held_bytes == retention.guard.open_bytes > 0

        audited = await store.pool.fetch(
            "SELECT object_id, reason FROM audit_log"
            " WHERE action = 'prune_evidence' AND actor = 'system:retention'"
        )
        assert len(audited) == 6 and old_clip in {r["object_id"] for r in audited}
        assert all("over the evidence quota" in r["reason"] for r in audited)

        client = await rig.client("command")
        gone = await client.get(f"/api/evidence/{old_clip}")
        assert gone.status_code == 410 and "pruned on" in gone.json()["detail"]
        assert (await client.get(f"/api/evidence/{open_clip}")).status_code == 200
        incident = await client.get(f"/api/incidents/{old_closed}")
        assert incident.status_code == 200 and old_clip not in incident.text
        figures = (await client.get("/api/storage")).json()
        assert figures["pruned_total"] == 6 and figures["quota_bytes"] == 1
        worker = await rig.client("w001")
        assert (await worker.get("/api/storage")).status_code == 403
    finally:
        await rig.stop()


async def test_age_rules_go_by_kind_and_spare_open_cases(store: Store) -> None:
    rig = await demo_rig(store)
    try:
        old_closed, _ = await _case(rig, 100, age_days=200)
        await _close(store, old_closed)
        young_closed, _ = await _case(rig, 100, age_days=20)
        await _close(store, young_closed)
        old_open, _ = await _case(rig, 100, age_days=400)
        retention = rig.centre.retention
        assert retention is not None
        # Crowd evidence is kept 90 days, the default is for ever: only the 200-day-old closed case goes.
        retention.policy = RetentionPolicy(days={"crowd": 90, "default": 0})
        assert await retention.run_once() == 3
        assert await _held(store, old_closed) == set()
        assert len(await _held(store, young_closed)) == 3 and len(await _held(store, old_open)) == 3
        retention.policy = RetentionPolicy(days={"crowd": 0, "default": 1})  # crowd kept for ever
        assert await retention.run_once() == 0
    finally:
        await rig.stop()


async def test_under_the_free_space_floor_clips_pause_and_events_are_still_recorded(store: Store) -> None:
    rig = await demo_rig(store)
    try:
        retention = rig.centre.retention
        assert retention is not None
        free = {"bytes": 50_000_000}
        retention._free_bytes = lambda: free["bytes"]  # the one edge faked here: the disk
        retention.policy = replace(retention.policy, min_free_bytes=100_000_000)
        await retention.run_once()
        assert retention.guard.clips_paused and "under the floor" in retention.guard.reason

        report = crowd_output(300)
        opened = await rig.report(report)
        assert opened is not None and opened[1]
        assert await rig.centre.intake.attach_clip(ClipReport(report.event.id, _clip(1))) is None
        assert retention.guard.dropped_clips == 1
        roles = [
            r["role"]
            for r in await store.pool.fetch("SELECT role FROM evidence WHERE event_id = $1", report.event.id)
        ]
        assert sorted(roles) == ["clean", "snapshot"]  # the event kept its snapshots

        free["bytes"] = 500_000_000
        await retention.run_once()
        assert not retention.guard.clips_paused
        assert await rig.centre.intake.attach_clip(ClipReport(report.event.id, _clip(2))) is not None
        actions = [
            r["action"]
            for r in await store.pool.fetch(
                "SELECT action FROM audit_log WHERE object_type = 'storage' ORDER BY id"
            )
        ]
        assert actions == ["clips_paused", "clips_resumed"]
    finally:
        await rig.stop()
