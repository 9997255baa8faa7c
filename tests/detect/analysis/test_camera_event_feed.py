"""The analysis role's camera event feed without a device: what it refuses to start, and says why."""

from __future__ import annotations

from detect.analysis.camera_events import CameraEventFeed
from models.camera_events import CameraEventTable
from models.clock import ManualClock
from models.link import AnalysisMessage
from models.records import Camera, Mount, OnvifEndpoint
from tests.rig import T0


class Kept:
    def __init__(self) -> None:
        self.messages: list[AnalysisMessage] = []

    async def publish(self, message: AnalysisMessage) -> None:
        self.messages.append(message)


def _camera(camera_id: str, onvif: OnvifEndpoint | None) -> Camera:
    return Camera(
        camera_id, camera_id, "rtsp://192.0.2.1/sub", (640, 480), Mount((118.63, 35.79)), onvif=onvif
    )


async def test_a_missing_password_variable_is_a_reason_and_nothing_is_contacted() -> None:
    feed = CameraEventFeed(Kept(), ManualClock(T0), CameraEventTable(), {})
    feed.start(_camera("cam-a", OnvifEndpoint("192.0.2.1", 80, "admin", "${GW_MISSING_ONVIF_PW}")))
    feed.start(_camera("cam-b", OnvifEndpoint("192.0.2.2", 80, events=False)))
    feed.start(_camera("cam-c", None))
    assert feed.subscribers == {}
    status = feed.status("cam-a")
    assert status is not None and status["state"] == "broken"
    assert status["reason"] == (
        "environment variable GW_MISSING_ONVIF_PW is not set (needed by the camera's ONVIF login)"
    )
    assert feed.status("cam-b") is None and feed.status("cam-c") is None
    await feed.stop("cam-a")
    assert feed.status("cam-a") is None
