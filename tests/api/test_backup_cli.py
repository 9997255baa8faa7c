"""``gridwatch backup`` and ``restore`` as a user runs them: one archive out, the same installation back
with its audit chains intact and the restore itself audited; bad input exits 2 with one line."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from models.store import Store
from tests.models.db.test_backup import CLIP, _installation
from tests.servers import run_cli


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "GRIDWATCH_DATABASE_URL": url, "NO_COLOR": "1"}


async def test_backup_then_restore_from_the_command_line(
    store: Store, db_url: str, empty_db_url: str, tmp_path: Path
) -> None:
    _, evidence_id = await _installation(store)
    archive = tmp_path / "county.tar"
    made = await asyncio.to_thread(run_cli, "backup", str(archive), env=_env(db_url))
    assert made.returncode == 0, made.stderr
    assert "1 incidents" in made.stdout and "1 evidence" in made.stdout

    back = await asyncio.to_thread(run_cli, "restore", str(archive), env=_env(empty_db_url))
    assert back.returncode == 0, back.stderr
    assert "audit chains intact" in back.stdout
    restored = await Store.connect(empty_db_url)
    try:
        _, data = await restored.evidence.get(evidence_id)
        assert data == CLIP.data
        async with restored.pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'restore'") == 1
    finally:
        await restored.close()

    again = await asyncio.to_thread(run_cli, "restore", str(archive), env=_env(empty_db_url))
    assert again.returncode == 2
    [line] = again.stderr.strip().splitlines()
    assert "already holds an installation" in line and "--replace" in line


def test_a_missing_archive_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = run_cli("restore", str(tmp_path / "nope.tar"), "--data-dir", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {tmp_path / 'nope.tar'}: no such file"
    assert not (tmp_path / "pg").exists()
