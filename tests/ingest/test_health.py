from __future__ import annotations

from datetime import UTC, datetime

from ingest.health import CameraHealth, CameraState, Transition
from models.clock import ManualClock

START = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def test_transitions_are_recorded_once_per_change() -> None:
    clock = ManualClock(START)
    health = CameraHealth("cam-1", clock)
    assert health.set_state(CameraState.CONNECTING, "starting")
    clock.advance(1)
    assert not health.set_state(CameraState.CONNECTING, "retrying")
    assert health.reason == "retrying"
    clock.advance(1)
    health.set_state(CameraState.OFFLINE, "connection refused")
    assert health.transitions == [
        Transition(CameraState.CONNECTING, START, "starting"),
        Transition(CameraState.OFFLINE, clock.now(), "connection refused"),
    ]


def test_a_frame_brings_the_camera_online_and_updates_counters() -> None:
    clock = ManualClock(START)
    health = CameraHealth("cam-1", clock)
    health.set_state(CameraState.STALLED, "no frame for 5.0 s")
    for _ in range(20):
        health.record_frame(clock.advance(0.1))
    assert health.state is CameraState.ONLINE
    assert health.frames_total == 20
    assert health.last_frame_at == clock.now()
    assert abs(health.fps - 10.0) < 0.01
    assert [t.state for t in health.transitions] == [CameraState.STALLED, CameraState.ONLINE]


def test_on_change_hook_sees_each_transition() -> None:
    seen: list[tuple[str, CameraState]] = []
    health = CameraHealth(
        "cam-1", ManualClock(START), on_change=lambda h, t: seen.append((h.camera_id, t.state))
    )
    health.set_state(CameraState.CONNECTING, "starting")
    health.set_state(CameraState.CONNECTING, "still starting")
    health.set_state(CameraState.AUTH_FAILED, "401")
    assert seen == [("cam-1", CameraState.CONNECTING), ("cam-1", CameraState.AUTH_FAILED)]


def test_a_failing_hook_does_not_stop_the_change() -> None:
    def broken(_health: CameraHealth, _transition: Transition) -> None:
        raise RuntimeError("publisher down")

    health = CameraHealth("cam-1", ManualClock(START), on_change=broken)
    assert health.set_state(CameraState.ONLINE, "receiving frames")
    assert health.state is CameraState.ONLINE
