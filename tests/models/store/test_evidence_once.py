"""Migration 0013: evidence is stored once per event, role and content, and a clip added twice is one row."""

from __future__ import annotations

from pathlib import Path

import models.db
from models.records import EvidenceBlob
from models.store import Store
from tests.models.store.samples import crowd_event, crowd_opening, sample_grid

MIGRATION = Path(models.db.__file__).parent / "migrations" / "0013_evidence_once.sql"


async def test_a_clip_added_twice_is_one_row_with_one_id(store: Store) -> None:
    await store.grids.replace([sample_grid()])
    event = crowd_event()
    await store.events.record(event, crowd_opening())
    clip = EvidenceBlob("clip", "video/mp4", "cd" * 32, b"\x00\x00\x00\x20ftypisom")
    first = await store.evidence.add(event.id, clip)
    assert await store.evidence.add(event.id, clip) == first
    other = EvidenceBlob("clip", "video/mp4", "ef" * 32, b"\x00\x00\x00\x20ftypmp42")
    assert await store.evidence.add(event.id, other) != first  # another clip of the event is its own row
    count = await store.pool.fetchval("SELECT count(*) FROM evidence WHERE event_id = $1", event.id)
    assert count == 2


async def test_the_migration_folds_copies_stored_before_it(store: Store) -> None:
    """A database that holds a copy already (none should: nothing redelivered before 0013) still migrates."""
    await store.grids.replace([sample_grid()])
    event = crowd_event()
    await store.events.record(event, crowd_opening())
    async with store.pool.acquire() as conn:
        # The owner's connection: the service's role may not drop indexes, as the old schema is rebuilt here.
        await conn.execute("RESET ROLE")
        await conn.execute("DROP INDEX evidence_once")
        for n in range(3):
            await conn.execute(
                "INSERT INTO evidence (id, event_id, role, media_type, sha256, size, data, created_at)"
                " VALUES ($1, $2, 'clip', 'video/mp4', 'ab', 1, '\\x00', now() + make_interval(secs => $3))",
                f"copy{n}",
                event.id,
                float(n),
            )
        await conn.execute(MIGRATION.read_text(encoding="utf-8"))
        rows = await conn.fetch("SELECT id FROM evidence WHERE role = 'clip'")
        keyed = await conn.fetchval("SELECT count(*) FROM pg_indexes WHERE indexname = 'evidence_once'")
    assert [r["id"] for r in rows] == ["copy0"] and keyed == 1
