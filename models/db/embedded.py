"""Where the database is: the configured PostgreSQL, or an embedded one in the data directory."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

logger = logging.getLogger(__name__)


@dataclass
class Database:
    url: str
    embedded: bool
    _server: Any = None

    def close(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def masked(url: str) -> str:
    """The URL with its password replaced, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def open_database(url: str | None, data_dir: Path) -> Database:
    """Use ``url`` when given; otherwise start (or join) the embedded server under ``data_dir/pg``."""
    if url:
        logger.info("using PostgreSQL at %s", masked(url))
        return Database(url=url, embedded=False)
    # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, CI); pgserver only needs a lock dir.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = Path("/tmp") / f"gridwatch-runtime-{os.getuid()}"
        runtime.mkdir(mode=0o700, exist_ok=True)
        runtime.chmod(0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    # imported late: only needed without a configured server
    from pgserver.postgres_server import get_server

    pgdata = (data_dir / "pg").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode="stop")
    logger.info("embedded PostgreSQL in %s", pgdata)
    return Database(url=server.get_uri(), embedded=True, _server=server)
