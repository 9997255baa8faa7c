"""A backup is the whole installation: restored into an empty database it gives back the same incidents,
evidence bytes and audit chain; a damaged archive, a newer schema or an occupied target are refused
before anything is written."""

from __future__ import annotations

import asyncio
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from models.db import Database
from models.db.backup import BackupProblem, create_backup, restore_backup
from models.records import EvidenceBlob
from models.store import Store
from tests.conftest import fresh_database
from tests.models.store.samples import crowd_event, crowd_opening, sample_grid

CLIP = EvidenceBlob("clip", "video/mp4", "ab" * 32, b"\x00\x00\x00\x20ftypisom" + bytes(range(256)) * 40)


def _repacked(archive: Path, out: Path, edit: Callable[[Path], None]) -> Path:
    """``archive`` unpacked, changed by ``edit`` (given the folder of its members), packed as ``out``."""
    parts = out.with_suffix(".parts")
    with tarfile.open(archive) as tar:
        tar.extractall(parts, filter="data")
    edit(parts)
    with tarfile.open(out, "w") as tar:
        tar.add(parts / "manifest.json", arcname="manifest.json")
        tar.add(parts / "database.dump", arcname="database.dump")
    return out


async def _installation(store: Store) -> tuple[str, int]:
    await store.grids.replace([sample_grid()])
    event = crowd_event()
    incident_id, _ = await store.events.record(event, crowd_opening())
    evidence_id = await store.evidence.add(event.id, CLIP)
    await store.audit.record(actor="cli:test", action="import", object_type="grids", object_id="379901")
    return str(incident_id), evidence_id


async def test_a_backup_restored_into_an_empty_database_is_the_same_installation(
    store: Store, db_url: str, empty_db_url: str, tmp_path: Path
) -> None:
    _, evidence_id = await _installation(store)
    archive = tmp_path / "site.tar"
    manifest = await asyncio.to_thread(create_backup, db_url, archive)
    assert manifest.counts["incidents"] == 1 and manifest.counts["evidence"] == 1
    assert manifest.counts["audit_log"] >= 1

    restored = await asyncio.to_thread(restore_backup, empty_db_url, archive)
    assert restored == manifest
    again = await Store.connect(empty_db_url)
    try:
        meta, data = await again.evidence.get(evidence_id)
        assert data == CLIP.data and meta.sha256 == CLIP.sha256
        assert (await again.counts())["incidents"] == 1
        report = await again.audit.verify()
        assert report.intact, report.breaks
        assert report.rows == (await store.audit.verify()).rows
        # Sequences came back too: the next audit row continues the chain instead of colliding.
        await again.audit.record(
            actor="cli:test", action="restore", object_type="installation", object_id="x"
        )
        assert (await again.audit.verify()).intact
    finally:
        await again.close()


async def test_an_occupied_target_is_refused_unless_replaced(
    store: Store, db_url: str, postgres: Database, tmp_path: Path
) -> None:
    await _installation(store)
    archive = tmp_path / "site.tar"
    await asyncio.to_thread(create_backup, db_url, archive)
    async with fresh_database(postgres) as url:
        occupied = await Store.connect(url)
        try:
            await occupied.grids.replace([sample_grid("379901001001002"), sample_grid("379901001001003")])
        finally:
            await occupied.close()
        with pytest.raises(BackupProblem, match=r"already holds an installation .* --replace"):
            await asyncio.to_thread(restore_backup, url, archive)
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT count(*) FROM grids") == 2
        finally:
            await conn.close()
        await asyncio.to_thread(restore_backup, url, archive, replace=True)
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT count(*) FROM grids") == 1
            assert await conn.fetchval("SELECT count(*) FROM incidents") == 1
        finally:
            await conn.close()


async def test_a_damaged_archive_is_refused_before_the_target_is_touched(
    store: Store, db_url: str, empty_db_url: str, tmp_path: Path
) -> None:
    await _installation(store)
    archive = tmp_path / "site.tar"
    await asyncio.to_thread(create_backup, db_url, archive)

    def flip_a_byte(parts: Path) -> None:
        dump = parts / "database.dump"
        raw = bytearray(dump.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        dump.write_bytes(bytes(raw))

    damaged = _repacked(archive, tmp_path / "damaged.tar", flip_a_byte)
    with pytest.raises(BackupProblem, match="does not match its manifest"):
        await asyncio.to_thread(restore_backup, empty_db_url, damaged)
    (tmp_path / "junk.tar").write_bytes(b"not a tar at all" * 100)
    with pytest.raises(BackupProblem, match="not a readable tar archive"):
        await asyncio.to_thread(restore_backup, empty_db_url, tmp_path / "junk.tar")
    conn = await asyncpg.connect(empty_db_url)
    try:
        assert await conn.fetchval("SELECT to_regclass('schema_migrations')") is None
    finally:
        await conn.close()


async def test_an_archive_from_a_newer_gridwatch_is_refused(
    store: Store, db_url: str, empty_db_url: str, tmp_path: Path
) -> None:
    await _installation(store)
    archive = tmp_path / "site.tar"
    await asyncio.to_thread(create_backup, db_url, archive)

    def from_schema_9999(parts: Path) -> None:
        manifest = json.loads((parts / "manifest.json").read_text())
        manifest["schema_version"] = 9999
        (parts / "manifest.json").write_text(json.dumps(manifest))

    newer = _repacked(archive, tmp_path / "newer.tar", from_schema_9999)
    with pytest.raises(BackupProblem, match=r"made by a newer gridwatch \(schema 9999"):
        await asyncio.to_thread(restore_backup, empty_db_url, newer)
