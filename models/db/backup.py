"""One archive of an installation, and putting it back.

Everything gridwatch keeps is in PostgreSQL, evidence included (snapshots and clips are rows of
``evidence``), so an installation is its database: the archive is a tar of ``pg_dump``'s custom format
and a manifest with its size, sha256 and schema version. A restore checks the archive before it touches
the target, refuses a target that already holds an installation unless told to replace it, builds the
schema the rows were written for by the migrations themselves (the service role, grants and triggers come
with them), loads the rows in one transaction, then applies any newer migrations.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from models.db.migrate import available_migrations, migrate

FORMAT = "gridwatch-backup/1"
_DUMP = "database.dump"
_MANIFEST = "manifest.json"
#: What a restore reports and what "already holds an installation" means.
_COUNTED = ("grids", "cameras", "users", "incidents", "events", "evidence", "audit_log")


class BackupProblem(Exception):
    """The archive or the target is not usable; the message says which and why, in one line."""


@dataclass(frozen=True, slots=True)
class Manifest:
    format: str
    created_at: str
    schema_version: int
    database_bytes: int
    database_sha256: str
    counts: dict[str, int] = field(default_factory=dict)


def _major(version_line: str) -> int:
    found = re.search(r"(\d+)(?:\.\d+)?", version_line)
    return int(found.group(1)) if found else 0


def _pg_tool(name: str, server_major: int) -> str:
    """``pg_dump``/``pg_restore`` no older than the server: embedded PostgreSQL's own, else the PATH's."""
    candidates: list[str] = []
    try:
        import pgserver

        candidates.append(str(Path(pgserver.__file__).parent / "pginstall" / "bin" / name))
    except ImportError:  # a deployment on an external database may not carry it
        pass
    on_path = shutil.which(name)
    if on_path:
        candidates.append(on_path)
    seen: list[str] = []
    for tool in candidates:
        if not Path(tool).is_file():
            continue
        version = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False).stdout
        seen.append(version.strip() or tool)
        if _major(version.split(")")[-1] if ")" in version else version) >= server_major:
            return tool
    raise BackupProblem(
        f"no {name} for PostgreSQL {server_major} or newer (found: {', '.join(seen) or 'none'}): "
        "install the PostgreSQL client tools of the server's version"
    )


def _run(command: list[str], what: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        # The first line names the problem; the URL (and its password) is never part of the message.
        first = (done.stderr.strip().splitlines() or ["exit status " + str(done.returncode)])[0]
        raise BackupProblem(f"{what} failed: {first}")
    return done.stdout


async def _facts(url: str) -> tuple[int, int, dict[str, int]]:
    conn = await asyncpg.connect(url)
    try:
        major = int(await conn.fetchval("SHOW server_version_num")) // 10000
        has_schema = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
        version = (
            int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations"))
            if (has_schema)
            else 0
        )
        counts: dict[str, int] = {}
        for table in _COUNTED:
            if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table):
                counts[table] = int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
        return major, version, counts
    finally:
        await conn.close()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def create_backup(url: str, archive: Path) -> Manifest:
    """Write the database at ``url`` to ``archive`` (a tar), atomically: a failed backup leaves no file."""
    major, version, counts = asyncio.run(_facts(url))
    if version == 0:
        raise BackupProblem("the database holds no gridwatch installation (no schema_migrations)")
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gridwatch-backup-") as tmp:
        dump = Path(tmp) / _DUMP
        pg_dump = _pg_tool("pg_dump", major)
        _run([pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--file={dump}", url], "pg_dump")
        manifest = Manifest(
            format=FORMAT,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            schema_version=version,
            database_bytes=dump.stat().st_size,
            database_sha256=_sha256(dump),
            counts=counts,
        )
        (Path(tmp) / _MANIFEST).write_text(json.dumps(asdict(manifest), indent=2), encoding="utf-8")
        partial = archive.with_name(archive.name + ".partial")
        with tarfile.open(partial, "w") as tar:
            tar.add(Path(tmp) / _MANIFEST, arcname=_MANIFEST)
            tar.add(dump, arcname=_DUMP)
        partial.replace(archive)
    return manifest


@contextmanager
def opened_backup(archive: Path) -> Iterator[tuple[Manifest, Path]]:
    """The archive's manifest and its dump in a temporary folder, after checking both; else BackupProblem."""
    if not archive.is_file():
        raise BackupProblem(f"{archive}: no such file")
    with tempfile.TemporaryDirectory(prefix="gridwatch-restore-") as tmp:
        try:
            with tarfile.open(archive, "r") as tar:
                names = set(tar.getnames())
                if not {_MANIFEST, _DUMP} <= names:
                    raise BackupProblem(f"{archive}: not a gridwatch backup (no {_MANIFEST} and {_DUMP})")
                tar.extractall(tmp, members=[tar.getmember(_MANIFEST), tar.getmember(_DUMP)], filter="data")
        except (tarfile.TarError, EOFError) as exc:
            raise BackupProblem(f"{archive}: not a readable tar archive ({exc})") from None
        try:
            raw = json.loads((Path(tmp) / _MANIFEST).read_text(encoding="utf-8"))
            manifest = Manifest(**raw)
        except (ValueError, TypeError) as exc:
            raise BackupProblem(f"{archive}: unreadable manifest ({exc})") from None
        if manifest.format != FORMAT:
            raise BackupProblem(f"{archive}: format {manifest.format!r}, this gridwatch reads {FORMAT!r}")
        dump = Path(tmp) / _DUMP
        if dump.stat().st_size != manifest.database_bytes or _sha256(dump) != manifest.database_sha256:
            raise BackupProblem(f"{archive}: the database dump does not match its manifest (damaged archive)")
        newest = max(m.version for m in available_migrations())
        if manifest.schema_version > newest:
            raise BackupProblem(
                f"{archive}: made by a newer gridwatch (schema {manifest.schema_version}; this one knows "
                f"up to {newest}): restore it with that version or newer"
            )
        yield manifest, dump


async def _prepare_target(url: str, replace: bool, up_to: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        if await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
            held = {
                t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in ("incidents", "users", "grids")
            }
            if any(held.values()) and not replace:
                summary = ", ".join(f"{n} {t}" for t, n in held.items())
                raise BackupProblem(
                    f"the target database already holds an installation ({summary}): "
                    "pass --replace to overwrite it"
                )
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        await migrate(conn, up_to=up_to)
        # Rows the migrations seed (chain heads, defaults) come back from the archive as they were saved.
        async with conn.transaction():
            # Replica mode: the append-only triggers would refuse emptying what the migrations just filled.
            await conn.execute("SET LOCAL session_replication_role = replica")
            for row in await conn.fetch(
                "SELECT tablename FROM pg_tables"
                " WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
            ):
                await conn.execute(f'DELETE FROM "{row["tablename"]}"')
    finally:
        await conn.close()


async def _finish(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()


def restore_backup(url: str, archive: Path, *, replace: bool = False) -> Manifest:
    """Load ``archive`` into the database at ``url``; the counts restored are checked against the manifest."""
    with opened_backup(archive) as (manifest, dump):
        major, _, _ = asyncio.run(_facts(url))
        pg_restore = _pg_tool("pg_restore", major)
        listing = _run([pg_restore, "--list", str(dump)], "reading the dump")
        # The migrations wrote schema_migrations for the versions they applied; the dump's copy would clash.
        wanted = [
            line for line in listing.splitlines() if not re.search(r"TABLE DATA \S+ schema_migrations ", line)
        ]
        asyncio.run(_prepare_target(url, replace, manifest.schema_version))
        with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as f:
            f.write("\n".join(wanted) + "\n")
            list_file = f.name
        try:
            # Triggers off while rows load: the audit chain's hashes are restored, not recomputed.
            _run(
                [
                    pg_restore,
                    "--data-only",
                    "--disable-triggers",
                    "--single-transaction",
                    "--no-owner",
                    f"--use-list={list_file}",
                    f"--dbname={url}",
                    str(dump),
                ],
                "pg_restore",
            )
        finally:
            Path(list_file).unlink(missing_ok=True)
        asyncio.run(_finish(url))
        _, _, counts = asyncio.run(_facts(url))
        short = {
            t: (manifest.counts[t], counts.get(t, 0))
            for t in manifest.counts
            if counts.get(t, 0) != manifest.counts[t]
        }
        if short:
            detail = ", ".join(
                f"{t} {want} in the archive, {got} restored" for t, (want, got) in short.items()
            )
            raise BackupProblem(f"restore incomplete: {detail}")
        return manifest
