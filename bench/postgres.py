"""An embedded PostgreSQL for a benchmark run, and a fresh demo-county database in it."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

from models.db import open_database
from models.records import Camera

if TYPE_CHECKING:
    from models.store import Store


@contextlib.contextmanager
def embedded_postgres() -> Iterator[str]:
    """The admin URL of an embedded server living in a temp dir for the duration of the block."""
    data_dir = Path(tempfile.mkdtemp(prefix="gridwatch-bench-pg-"))
    db = open_database(None, data_dir)
    try:
        yield db.url
    finally:
        db.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def _with_database(url: str, name: str) -> str:
    # pgserver gives socket URLs like postgresql://postgres:@/postgres?host=/tmp/x
    base, _, query = url.partition("?")
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}" + (f"?{query}" if query else "")


@contextlib.asynccontextmanager
async def fresh_database(admin_url: str) -> AsyncIterator[str]:
    name = f"gw_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield _with_database(admin_url, name)
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def demo_cameras(count: int, source: str, **changes: object) -> list[Camera]:
    """``count`` copies of the demo county's camera (same mount and calibration), ids cam-000…"""
    from api.site import demo_site

    template = demo_site().cameras[0]
    return [
        replace(template, id=f"cam-{i:03d}", name=f"bench camera {i}", source=source, **changes)  # type: ignore[arg-type]
        for i in range(count)
    ]


async def load_demo_county(store: Store, cameras: Sequence[Camera]) -> None:
    from api.site import demo_site, load_site

    site = demo_site()
    await load_site(store, replace(site, cameras=list(cameras)))
