"""The audit trail and the incident log are append-only and hash-chained (migration 0008).

Finding of 2026-12-04: ``UPDATE audit_log SET actor='forged'`` succeeded. Now the service's own
connections lack the privilege, a trigger refuses even the owner, and what the superuser changes behind
both is named by ``AuditRepository.verify``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import pytest

from models.db import Database, available_migrations, migrate
from models.incidents import LogEntry
from models.records import IncidentState
from models.store import Store
from tests.models.store.samples import T0, crowd_event, crowd_opening


@pytest.fixture
async def superuser(db_url: str, store: Store) -> AsyncIterator[asyncpg.Connection]:
    """The database superuser (the test server's ``postgres``), who may switch triggers off."""
    conn = await asyncpg.connect(db_url)
    assert await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    yield conn
    await conn.close()


async def _trail(store: Store, n: int) -> list[int]:
    for i in range(n):
        await store.audit.record(actor=f"user{i}", action="view", object_type="evidence", object_id=f"e{i}")
    return [e.id for e in reversed(await store.audit.entries())]


async def _log_rows(store: Store) -> list[int]:
    """An opened incident (its opening rows) moved on once: incident-log rows written as the service does."""
    incident_id, _ = await store.events.record(crowd_event(), crowd_opening())
    incident = await store.incidents.get(incident_id)
    await store.incidents.apply(
        LogEntry(incident_id, incident.state, IncidentState.ACCEPTED, "accept", "w001", T0, "on it")
    )
    return [r["id"] for r in await store.pool.fetch("SELECT id FROM incident_log ORDER BY chain_seq")]


async def test_the_services_connection_cannot_rewrite_or_remove_audit_rows(store: Store) -> None:
    await _trail(store, 1)
    async with store.pool.acquire() as conn:
        assert await conn.fetchval("SELECT current_user") == "gridwatch_service"
        for statement in (
            "UPDATE audit_log SET actor = 'forged'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
            "UPDATE incident_log SET actor = 'forged'",
            "DELETE FROM incident_log",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await conn.execute(statement)
        # After the pool's reset between uses, the connection still acts as the service.
    async with store.pool.acquire() as conn:
        assert await conn.fetchval("SELECT current_user") == "gridwatch_service"
    assert [e.actor for e in await store.audit.entries()] == ["user0"]


async def test_the_trigger_refuses_even_the_owner(store: Store, superuser: asyncpg.Connection) -> None:
    await _trail(store, 2)
    await _log_rows(store)
    for statement in (
        "UPDATE audit_log SET actor = 'forged'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "UPDATE incident_log SET note = 'forged'",
        "DELETE FROM incident_log",
        "TRUNCATE incident_log CASCADE",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await superuser.execute(statement)
    assert (await store.audit.verify()).intact


async def test_the_service_role_keeps_its_other_rights_and_gets_later_tables(
    store: Store, superuser: asyncpg.Connection
) -> None:
    # A table a later migration creates (as the owner) is the service's to use, without its own GRANT.
    await superuser.execute("CREATE TABLE later_feature (id bigserial PRIMARY KEY, note text)")
    await store.pool.execute("INSERT INTO later_feature (note) VALUES ('a')")
    await store.pool.execute("UPDATE later_feature SET note = 'b'")
    assert await store.pool.fetchval("SELECT note FROM later_feature") == "b"
    await store.pool.execute("DELETE FROM later_feature")
    # The chain heads and the migration record are the owner's alone.
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await store.pool.execute("UPDATE audit_chain_heads SET seq = 0")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await store.pool.execute("DELETE FROM schema_migrations")


async def test_rows_are_chained_in_one_order_and_verify(store: Store) -> None:
    await _trail(store, 3)
    rows = await store.pool.fetch("SELECT chain_seq, prev_hash, row_hash FROM audit_log ORDER BY chain_seq")
    assert [r["chain_seq"] for r in rows] == [1, 2, 3]
    assert rows[0]["prev_hash"] == "0" * 64
    assert [r["prev_hash"] for r in rows[1:]] == [r["row_hash"] for r in rows[:-1]]
    assert len({r["row_hash"] for r in rows}) == 3
    log_ids = await _log_rows(store)
    report = await store.audit.verify()
    assert report.intact, report.breaks
    assert report.rows == {"audit_log": 3, "incident_log": len(log_ids)}


async def test_concurrent_appends_form_one_chain(store: Store) -> None:
    await asyncio.gather(
        *(
            store.audit.record(actor=f"u{i}", action="view", object_type="incident", object_id=str(i))
            for i in range(40)
        )
    )
    report = await store.audit.verify(batch=7)  # several pages of the walk
    assert report.intact, report.breaks
    assert report.rows["audit_log"] == 40


async def test_a_superuser_edit_names_the_edited_row(store: Store, superuser: asyncpg.Connection) -> None:
    ids = await _trail(store, 5)
    log_ids = await _log_rows(store)
    await superuser.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    await superuser.execute("UPDATE audit_log SET actor = 'forged' WHERE id = $1", ids[2])
    await superuser.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    await superuser.execute("SET session_replication_role = replica")  # every trigger off
    await superuser.execute("UPDATE incident_log SET note = 'nothing happened' WHERE id = $1", log_ids[-1])
    report = await store.audit.verify()
    assert [(b.table, b.row_id) for b in report.breaks] == [
        ("audit_log", ids[2]),
        ("incident_log", log_ids[-1]),
    ]
    assert str(report.breaks[0]) == f"audit_log row {ids[2]}: its content does not match its hash: edited"


async def test_removed_rows_are_named(store: Store, superuser: asyncpg.Connection) -> None:
    ids = await _trail(store, 5)
    await superuser.execute("SET session_replication_role = replica")
    await superuser.execute("DELETE FROM audit_log WHERE id = $1", ids[1])
    [found] = (await store.audit.verify()).breaks
    assert (found.table, found.row_id) == ("audit_log", ids[2])  # the row whose predecessor went
    assert "removed" in found.problem

    await superuser.execute("DELETE FROM audit_log WHERE id = ANY($1::bigint[])", ids[2:])
    [found] = (await store.audit.verify()).breaks
    assert found.row_id is None and "removed from the end" in found.problem


async def test_a_forged_row_with_a_recomputed_hash_breaks_the_next_link(
    store: Store, superuser: asyncpg.Connection
) -> None:
    """Whoever also rewrites the hash of the row they edited is caught by the row after it."""
    ids = await _trail(store, 3)
    await superuser.execute("SET session_replication_role = replica")
    await superuser.execute("UPDATE audit_log SET actor = 'forged' WHERE id = $1", ids[0])
    await superuser.execute(
        "UPDATE audit_log a SET row_hash = gridwatch_chain_hash(a.prev_hash, gridwatch_audit_content(a))"
        " WHERE id = $1",
        ids[0],
    )
    [found] = (await store.audit.verify()).breaks
    assert (found.table, found.row_id) == ("audit_log", ids[1])
    assert f"does not follow row {ids[0]}" in found.problem


async def test_the_migration_chains_the_rows_already_there(empty_db_url: str) -> None:
    conn = await asyncpg.connect(empty_db_url)
    try:
        await conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for m in available_migrations():
            if m.version < 8:
                await conn.execute(m.sql)
                await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2)", m.version, m.name)
        await conn.execute(
            "INSERT INTO audit_log (actor, action, object_type, object_id)"
            " SELECT 'before', 'view', 'evidence', g::text FROM generate_series(1, 4) g"
        )
        assert await migrate(conn) == [m.name for m in available_migrations() if m.version >= 8]
        seqs = await conn.fetch("SELECT id, chain_seq FROM audit_log ORDER BY id")
    finally:
        await conn.close()
    assert [r["chain_seq"] for r in seqs] == [1, 2, 3, 4]
    store = await Store.connect(empty_db_url)
    try:
        await store.audit.record(actor="after", action="view", object_type="evidence", object_id="5")
        report = await store.audit.verify()
    finally:
        await store.close()
    assert report.intact, report.breaks
    assert report.rows["audit_log"] == 5


async def test_a_configured_owner_who_is_no_superuser(postgres: Database) -> None:
    """As with an external database URL: the owner runs the migrations, the pool acts as the service."""
    if not postgres.embedded:
        pytest.skip("signs in as a new role without a password: needs the embedded server's trust")
    owner, name = f"gw_owner_{os.getpid()}", f"gw_owned_{os.getpid()}"
    admin = await asyncpg.connect(postgres.url)
    await admin.execute(f'CREATE ROLE "{owner}" LOGIN CREATEROLE')
    await admin.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    head, _, query = postgres.url.partition("?")
    url = f"postgresql://{owner}@{urlsplit(head).netloc.rpartition('@')[2]}/{name}" + (
        f"?{query}" if query else ""
    )
    try:
        if await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = 'gridwatch_service'"):
            # Created by someone else (here: the superuser, for the other tests): the owner may not take
            # it on until granted, and is told how.
            with pytest.raises(asyncpg.RaiseError, match="may not take it on") as refused:
                await Store.connect(url)
            assert f"GRANT gridwatch_service TO {owner}" in str(refused.value.hint)
            await admin.execute(f'GRANT gridwatch_service TO "{owner}"')
        store = await Store.connect(url)
        try:
            await store.audit.record(actor="a", action="view", object_type="incident", object_id="1")
            assert await store.pool.fetchval("SELECT current_user") == "gridwatch_service"
            assert (
                await store.pool.fetchval("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_log'")
                == owner
            )
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await store.pool.execute("UPDATE audit_log SET actor = 'forged'")
            assert (await store.audit.verify()).intact
        finally:
            await store.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'DROP ROLE IF EXISTS "{owner}"')
        await admin.close()


async def test_a_row_appended_with_the_triggers_off_is_named(
    store: Store, superuser: asyncpg.Connection
) -> None:
    """A well-formed row (next number, right previous hash, its own hash right) that the head never saw."""
    await _trail(store, 3)
    await superuser.execute("SET session_replication_role = replica")
    forged = await superuser.fetchval(
        "INSERT INTO audit_log (actor, action, object_type, object_id, chain_seq, prev_hash, row_hash)"
        " SELECT 'forged', 'view', 'evidence', 'e9', 4, row_hash, '' FROM audit_log WHERE chain_seq = 3"
        " RETURNING id"
    )
    await superuser.execute(
        "UPDATE audit_log a SET row_hash = gridwatch_chain_hash(a.prev_hash, gridwatch_audit_content(a))"
        " WHERE id = $1",
        forged,
    )
    [found] = (await store.audit.verify()).breaks
    assert (found.table, found.row_id) == ("audit_log", forged)
    assert "beyond the chain's head" in found.problem
