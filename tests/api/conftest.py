from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.nats.servers import NatsServer


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """One real nats-server with JetStream (no leaf nodes), stopped after the test."""
    server = NatsServer("single", tmp_path / "nats", "single")
    server.start()
    yield server
    server.stop()
