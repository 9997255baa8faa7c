"""The maintenance-incident decision for cameras that stay down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest.health import CameraState
from ingest.offline import OfflineWatch
from models.records import EventKind

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_one_event_per_outage_after_the_tolerance() -> None:
    watch = OfflineWatch(after_s=300)
    assert watch.check("cam", CameraState.OFFLINE, T0, at(299)) is None
    event = watch.check("cam", CameraState.OFFLINE, T0, at(300))
    assert event is not None and event.kind is EventKind.CAMERA_OFFLINE and event.started_at == T0
    assert event.camera_id == "cam" and event.zone_name is None
    assert watch.check("cam", CameraState.OFFLINE, T0, at(900)) is None


def test_reconnect_attempts_do_not_restart_the_clock_but_frames_do() -> None:
    watch = OfflineWatch(after_s=60)
    assert watch.check("cam", CameraState.STALLED, T0, at(10)) is None
    assert watch.check("cam", CameraState.CONNECTING, at(20), at(20)) is None
    # A fresh OFFLINE 'since' after a reconnect attempt: the outage still began at T0.
    event = watch.check("cam", CameraState.OFFLINE, at(25), at(61))
    assert event is not None and event.started_at == T0
    assert watch.check("cam", CameraState.ONLINE, at(70), at(70)) is None
    assert watch.check("cam", CameraState.AUTH_FAILED, at(100), at(159)) is None
    assert watch.check("cam", CameraState.AUTH_FAILED, at(100), at(160)) is not None


def test_tolerance_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        OfflineWatch(after_s=0)
