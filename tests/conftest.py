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
from models.db import Database, open_database
from models.store import Store

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
DEMO_DIR = REPO / "api" / "demo"
SHARED_MODELS = SHARED / "models"
VTEST = DEFAULT_DEMO_VIDEO
SYSTEM_TESTS = REPO / "tests" / "system"

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


@contextlib.asynccontextmanager
async def fresh_database(postgres: Database) -> AsyncIterator[str]:
    """A fresh, empty database on the test server, dropped afterwards."""
    name = f"gw_test_{os.getpid()}_{next(_db_numbers)}"
    admin = await asyncpg.connect(postgres.url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
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
    """A fresh, empty database for one test, dropped afterwards."""
    async with fresh_database(postgres) as url:
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
