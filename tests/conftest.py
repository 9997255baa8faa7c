"""Shared fixtures: a real embedded PostgreSQL, a fresh database per test, the demo county files."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from api.site import DEFAULT_DEMO_VIDEO
from models.db import Database, migrate, open_database
from models.store import Store

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
DEMO_DIR = REPO / "api" / "demo"
SHARED_MODELS = SHARED / "models"
VTEST = DEFAULT_DEMO_VIDEO
SYSTEM_TESTS = REPO / "tests" / "system"

pytest_plugins = ["tests.hang_watch"]

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")

_db_numbers = itertools.count(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """System tests (tests/system: browser, fuzz, chaos, bench smoke, end to end) are slow ones:
    ``./run test --fast`` leaves them out, with the real-video tests marked where they live."""
    for item in items:
        if item.path.is_relative_to(SYSTEM_TESTS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Database]:
    """One embedded server for the whole run (or the one named by GRIDWATCH_TEST_DATABASE_URL).

    Its data lives outside pytest's numbered tmp dirs: a concurrent pytest run prunes old ones.
    """
    url = os.environ.get("GRIDWATCH_TEST_DATABASE_URL")
    data_dir = Path(tempfile.mkdtemp(prefix="gridwatch-test-pg-"))
    db = open_database(url, data_dir)
    yield db
    db.close()
    shutil.rmtree(data_dir, ignore_errors=True)


def _with_database(url: str, name: str) -> str:
    # pgserver gives socket URLs like postgresql://postgres:@/postgres?host=/tmp/x
    base, _, query = url.partition("?")
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}" + (f"?{query}" if query else "")


_templates: dict[str, str] = {}


async def _migrated_template(postgres: Database) -> str:
    """A database migrated once per run; each test's database is a copy of it (a file copy on the server,
    several times faster than running every migration again for each of hundreds of tests)."""
    name = _templates.get(postgres.url)
    if name is None:
        name = f"gw_template_{os.getpid()}"
        admin = await asyncpg.connect(postgres.url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        conn = await asyncpg.connect(_with_database(postgres.url, name))
        try:
            await migrate(conn)
        finally:
            await conn.close()  # CREATE DATABASE … TEMPLATE needs the template without connections
        _templates[postgres.url] = name
    return name


@contextlib.asynccontextmanager
async def fresh_database(postgres: Database, *, migrated: bool = True) -> AsyncIterator[str]:
    """A fresh database on the test server, with the schema (or empty), dropped afterwards."""
    name = f"gw_test_{os.getpid()}_{next(_db_numbers)}"
    template = f' TEMPLATE "{await _migrated_template(postgres)}"' if migrated else ""
    admin = await asyncpg.connect(postgres.url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"{template}')
    finally:
        await admin.close()
    yield _with_database(postgres.url, name)
    admin = await asyncpg.connect(postgres.url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def db_url(postgres: Database) -> AsyncIterator[str]:
    """A fresh database with the schema for one test, dropped afterwards."""
    async with fresh_database(postgres) as url:
        yield url


@pytest.fixture
async def empty_db_url(postgres: Database) -> AsyncIterator[str]:
    """A fresh, empty database (no schema) for one test, dropped afterwards."""
    async with fresh_database(postgres, migrated=False) as url:
        yield url


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    s = await Store.connect(db_url)
    yield s
    await s.close()


@pytest.fixture
async def other_store(postgres: Database) -> AsyncIterator[Store]:
    """A second fresh database, for tests that compare two runs side by side."""
    async with fresh_database(postgres) as url:
        s = await Store.connect(url)
        yield s
        await s.close()


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    return DEMO_DIR


@pytest.fixture(scope="session")
def vtest() -> Path:
    if not VTEST.exists():
        pytest.fail(f"{VTEST} is missing: run ./run setup (installs Debian's opencv-doc)")
    return VTEST
