"""Numbered migrations: each applied once and recorded; concurrent runs queue on the advisory lock."""

from __future__ import annotations

import asyncio

import asyncpg

from models.db import available_migrations, migrate


async def test_migrations_are_idempotent_and_recorded(empty_db_url: str) -> None:
    conn = await asyncpg.connect(empty_db_url)
    try:
        first = await migrate(conn)
        second = await migrate(conn)
        versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")]
    finally:
        await conn.close()
    assert first == [m.name for m in available_migrations()]
    assert second == []
    assert versions == [m.version for m in available_migrations()]


async def test_concurrent_migrations_queue_on_the_advisory_lock(empty_db_url: str) -> None:
    conns = [await asyncpg.connect(empty_db_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
    finally:
        for c in conns:
            await c.close()
    applied = [name for r in results for name in r]
    assert sorted(applied) == sorted(m.name for m in available_migrations())
