"""The one interface between the two roles: events in to the centre, camera commands out to analysis.

The analysis role (detect/analysis) publishes what cameras saw as ``EventReport`` and ``ClipReport``
messages into an ``EventSink``; the centre role (router/centre) consumes them, routes and stores them.
The centre sends ``RunCamera``/``StopCamera`` through a ``CommandSink`` when the registry changes, and
``WatchZone`` when a case the camera can judge is resolved; the node answers that with a ``ZoneReport``.
Everything here is a plain record, so a message bus can carry it; in one process (serve, demo) it
travels through an in-process queue (api/link.py).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from models.records import Camera, Event, EventKind, EventPhase, EvidenceBlob


@dataclass(frozen=True, slots=True)
class EventReport:
    """One phase of an event a camera saw.

    START carries the evidence bytes (snapshot, clean picture) that ``event.evidence`` describes. UPDATE
    and END reuse the START event's id (same episode), with ``person_count`` the peak so far and, for END,
    ``ended_at`` set; they carry no images. An instant START (a line crossing) has ``ended_at`` set
    already and nothing follows it.
    """

    phase: EventPhase
    event: Event
    evidence: tuple[EvidenceBlob, ...] = ()


@dataclass(frozen=True, slots=True)
class ClipReport:
    """A finished clip of an event reported earlier (its frames after the start took seconds to come)."""

    event_id: uuid.UUID
    clip: EvidenceBlob


class ZoneVerdict(enum.StrEnum):
    #: The rule held no episode for the zone for the whole window (see detect/analysis/watch.py).
    CLEAR = "clear"
    #: The rule started an episode, or one open at resolution outlived the rule's own hysteresis.
    PRESENT = "present"
    #: The camera cannot answer (stopped, offline, its zone gone): a person has to verify.
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class ZoneReport:
    """The answer to a ``WatchZone``: what the zone rule saw after the incident was resolved.

    ``snapshot`` is the frame the verdict was taken on (the last clear frame, or the fresh sighting),
    annotated and with heads pixelated like any event snapshot; None when the camera could not answer.
    """

    watch_id: uuid.UUID
    incident_id: uuid.UUID
    camera_id: str
    verdict: ZoneVerdict
    at: datetime
    snapshot: EvidenceBlob | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class CameraEventReport:
    """A state change the camera itself reported (ONVIF event: tamper, video loss, motion, analytics).

    ``topic`` is canonical (tns1:…, tnsaxis:…); ``active`` False means the condition ended. The centre
    decides what it means (models.camera_events); the analysis role only forwards it.
    """

    camera_id: str
    topic: str
    active: bool
    at: datetime
    source: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[str, str] = field(default_factory=dict)

    @property
    def event_id(self) -> uuid.UUID:
        """One key per camera: the centre handles a camera's events in the order it reported them."""
        return uuid.uuid5(_CAMERA_EVENTS, self.camera_id)


_CAMERA_EVENTS = uuid.UUID("6f1c2a8e-3d4b-5e6f-8a9b-0c1d2e3f4a5b")

AnalysisMessage = EventReport | ClipReport | ZoneReport | CameraEventReport


class EventSink(Protocol):
    async def publish(self, message: AnalysisMessage) -> None:
        """Hand a message to the centre; returns once it is queued (or refused, by raising)."""
        ...


@dataclass(frozen=True, slots=True)
class RunCamera:
    """Start analysing this camera, or restart it with this record."""

    camera: Camera


@dataclass(frozen=True, slots=True)
class StopCamera:
    camera_id: str


@dataclass(frozen=True, slots=True)
class WatchZone:
    """Keep judging one zone rule of a camera for ``window_s`` after its incident was resolved.

    The analysis role answers once with a ``ZoneReport`` carrying the same ``watch_id``; a second
    WatchZone for the same incident (resolved again) replaces the first.
    """

    watch_id: uuid.UUID
    incident_id: uuid.UUID
    camera_id: str
    zone_name: str
    kind: EventKind
    window_s: float


@dataclass(frozen=True, slots=True)
class SuppressRegion:
    """Ignore fire and smoke boxes overlapping ``box`` (image pixels) on one camera until ``until``.

    Sent when a person rejects a fire or smoke incident as a false alarm (误报): the same sign, lamp or haze
    would otherwise open the same false incident again at the next check. Boxes elsewhere in the picture
    still count, so a real fire next to the dismissed spot is still reported.
    """

    camera_id: str
    kinds: tuple[EventKind, ...]
    box: tuple[float, float, float, float]
    until: datetime
    incident_id: uuid.UUID


CameraCommand = RunCamera | StopCamera | WatchZone | SuppressRegion


class CommandSink(Protocol):
    async def send(self, command: CameraCommand) -> None: ...


@dataclass(frozen=True, slots=True)
class NodeHeartbeat:
    """What a node says about itself every few seconds (api/nats/health.py): the centre's view of its load.

    It travels on plain NATS, not the stream: a heartbeat kept through an outage would only say how the node
    was, and its absence is what tells the centre a node or its township's link is gone. ``sent_at`` is the
    node's own wall clock, so the centre can measure how far that clock is from its own.
    """

    node_id: str
    township: str
    #: Cameras the node runs now, and those of them whose picture is gone (offline, stalled, refused).
    cameras: int
    analysed_fps: float
    #: The 1-minute load average of the node's machine.
    load: float
    sent_at: datetime
    cameras_down: tuple[str, ...] = ()
    #: Seconds to the next heartbeat: a node not heard for three of them is taken for gone.
    every_s: float = 5.0
