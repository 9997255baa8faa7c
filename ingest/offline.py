"""When a camera has been offline long enough to need a maintenance incident.

Pure: feed it the camera's health state and when that state began, plus the current instant; it
answers with an Event to route (kind CAMERA_OFFLINE, routed like any other to the camera's grid)
at most once per outage. A camera that delivers frames again re-arms it; reconnect attempts in between do not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ingest.health import CameraState
from models.records import Event, EventKind

#: States that count as "the picture is gone"; a stalled stream is as useless as a dead one, and a
#: camera refusing our password needs a visit (or a config fix) just the same.
DOWN_STATES = frozenset({CameraState.OFFLINE, CameraState.STALLED, CameraState.AUTH_FAILED})


@dataclass
class OfflineWatch:
    """Decides per camera; ``after_s`` is the site's tolerance before someone is sent."""

    after_s: float
    _raised: set[str] = field(default_factory=set)
    _down_since: dict[str, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.after_s <= 0:
            raise ValueError(f"after_s must be positive, got {self.after_s}")

    def check(self, camera_id: str, state: CameraState, since: datetime, now: datetime) -> Event | None:
        """An Event when camera_id has been down for after_s and none was raised for this outage."""
        if state is CameraState.ONLINE:
            self.forget(camera_id)
            return None
        if state not in DOWN_STATES:
            # Connecting between failed attempts: an outage, if one is under way, goes on.
            return None
        down_since = self._down_since.setdefault(camera_id, since)
        if camera_id in self._raised or (now - down_since).total_seconds() < self.after_s:
            return None
        self._raised.add(camera_id)
        return Event(
            kind=EventKind.CAMERA_OFFLINE,
            camera_id=camera_id,
            zone_name=None,
            started_at=down_since,
            confidence=1.0,
        )

    def forget(self, camera_id: str) -> None:
        """For a camera back online or removed from the registry."""
        self._raised.discard(camera_id)
        self._down_since.pop(camera_id, None)
