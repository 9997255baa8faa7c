"""What the wall shows of a camera: its newest analysed picture, boxes and health."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ingest.frames import Frame, FrameSource
from models.records import Detection


@dataclass
class LiveView:
    """The newest analysed picture of a camera, for the wall and the MJPEG stream."""

    frame: Frame | None = None
    detections: list[Detection] = field(default_factory=list)
    analysed_at: float = 0.0
    analysed_frames: int = 0
    events: int = 0
    source: FrameSource | None = None

    def status(self) -> dict[str, Any]:
        """Health and counters, as the status page and the camera list show them."""
        health = self.source.health if self.source is not None else None
        return {
            "state": str(health.state) if health is not None else "connecting",
            "reason": health.reason if health is not None else None,
            "fps": health.fps if health is not None else None,
            "last_frame_at": health.last_frame_at if health is not None else None,
            "analysed_frames": self.analysed_frames,
            "events": self.events,
            "detections": len(self.detections),
        }
