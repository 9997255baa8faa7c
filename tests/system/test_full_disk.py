"""Acceptance 4 of issue 15 on a real small disk: the embedded PostgreSQL on a 160 MB tmpfs, clips of
incompressible bytes until the free space falls under the floor. Clips stop, an alert is raised (audit,
/api/storage), the service stays up and every event after that is still recorded with its snapshots."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.db import open_database
from models.link import ClipReport
from models.records import EvidenceBlob
from models.store import Store
from router.centre.retention import free_space_of
from router.retention import MB, RetentionPolicy
from tests.rig import crowd_output, demo_rig

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=160m", "tmpfs", str(disk)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}): needs root")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


async def test_a_filling_disk_stops_clips_before_events(small_disk: Path) -> None:
    database = open_database(None, small_disk)
    store = await Store.connect(database.url)
    rig = await demo_rig(store)
    try:
        retention = rig.centre.retention
        assert retention is not None
        retention._free_bytes = free_space_of(small_disk / "pg")  # the real disk, as serve would watch it
        retention.policy = RetentionPolicy(min_free_bytes=40 * MB)
        await retention.run_once()
        assert not retention.guard.clips_paused, retention.guard.free_bytes

        stored = refused = 0
        for n in range(80):
            report = crowd_output(100 + (n % 40) * 30)
            assert await rig.report(report) is not None
            data = os.urandom(2 * MB)
            clip = EvidenceBlob("clip", "video/mp4", hashlib.sha256(data).hexdigest(), data)
            if await rig.centre.intake.attach_clip(ClipReport(report.event.id, clip)) is None:
                refused += 1
            else:
                stored += 1
            await retention.run_once()  # what the worker does every few minutes
            if refused >= 10:
                break
        assert stored >= 5 and refused >= 10
        assert retention.guard.clips_paused and retention.guard.free_bytes is not None
        assert retention.guard.free_bytes < 40 * MB

        events = await store.pool.fetchval("SELECT count(*) FROM events")
        snapshots = await store.pool.fetchval("SELECT count(*) FROM evidence WHERE role = 'snapshot'")
        assert events == stored + refused and snapshots == events
        client = await rig.client("command")
        assert (await client.get("/api/health")).status_code == 200
        figures = (await client.get("/api/storage")).json()
        assert figures["clips_paused"] and figures["dropped_clips"] == refused
        paused = await store.pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'clips_paused'")
        assert paused == 1
    finally:
        await rig.stop()
        await store.close()
        database.close()
