"""Fixtures for the ingest tests: the real RTSP server on a free loopback port."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.ingest.rtsp_peer import RtspPeer, gi_missing_reason

SERVER_PASSWORD = "canary-Srv-7f3a9c"


@pytest.fixture(scope="session")
def rtsp_available() -> None:
    reason = gi_missing_reason()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture
def rtsp_peer_factory(rtsp_available: None, vtest: Path, tmp_path: Path) -> Iterator[Callable[..., RtspPeer]]:
    """Start servers (stopped again after the test): factory(user=None, password=None) -> RtspPeer."""
    peers: list[RtspPeer] = []

    def start(*, user: str | None = None, password: str | None = None) -> RtspPeer:
        peer = RtspPeer(vtest, tmp_path, user=user, password=password)
        peers.append(peer)
        peer.start()
        return peer

    yield start
    for peer in peers:
        peer.stop()


@pytest.fixture
def rtsp_peer(rtsp_peer_factory: Callable[..., RtspPeer]) -> RtspPeer:
    return rtsp_peer_factory()


@pytest.fixture
def rtsp_auth_peer(rtsp_peer_factory: Callable[..., RtspPeer]) -> RtspPeer:
    return rtsp_peer_factory(user="U", password=SERVER_PASSWORD)
