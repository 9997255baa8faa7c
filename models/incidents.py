"""The incident aggregate as every package reads and writes it: one read model, one write model.

``Incident`` is what the store returns and what the API, the notifier and the feed render; the columns
of the incidents table never leave models/store. ``IncidentOpening`` is what routing an event produces
for the store to open (or fold into) an incident; ``LogEntry`` is one row of an incident's audit log.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from models.records import (
    XYXY,
    EventKind,
    Evidence,
    GridMatch,
    IncidentState,
    LocatedBy,
    LonLat,
    Severity,
    Tier,
    Unit,
)


@dataclass(frozen=True, slots=True)
class Incident:
    """An incident as it stands: every element a county audit asks for (place, time, category, owner)."""

    id: uuid.UUID
    kind: EventKind
    state: IncidentState
    severity: Severity
    tier: Tier
    department: str
    category_code: str
    #: The owning unit: the grid, or the township/county it fell back to.
    unit_code: str
    grid_code: str | None
    lonlat: LonLat
    located_by: LocatedBy
    camera_id: str
    dedup_key: str
    opened_at: datetime
    last_seen_at: datetime
    event_count: int
    assignee_id: str | None
    title: str
    accept_by: datetime | None = None
    late: bool = False
    grid_match: GridMatch = GridMatch.INSIDE
    #: The owning unit and its ancestors, county first.
    chain: tuple[Unit, ...] = ()
    assignee_name: str | None = None
    assignee_phone: str | None = None
    #: Who was on duty when it was dispatched and the fallback chain walked (JSON-shaped).
    duty: Mapping[str, Any] = field(default_factory=dict)
    arrive_by: datetime | None = None
    resolve_by: datetime | None = None
    escalation_level: int = 0
    #: Bumped by every change; a caller acting on what it read passes the state it saw.
    version: int = 1
    #: An occupation's occupant (models/catalogue.json by_occupant: vehicle, stall, goods, debris), read from
    #: the labels of its events' boxes; None for other kinds or when no box names one.
    occupant: str | None = None


@dataclass(frozen=True, slots=True)
class IncidentOpening:
    """Everything needed to open an incident, or to attach an event to the open one with the same key."""

    kind: EventKind
    severity: Severity
    tier: Tier
    department: str
    category_code: str
    unit_code: str
    grid_code: str | None
    grid_match: str
    chain: Sequence[Unit]
    lonlat: LonLat
    located_by: LocatedBy
    camera_id: str
    dedup_key: str
    title: str
    at: datetime
    accept_by: datetime | None
    assignee_id: str | None
    assignee_name: str | None
    assignee_phone: str | None
    duty: dict[str, Any] = field(default_factory=dict)
    #: Timer kind ('accept', 'arrive', 'resolve') → deadline; armed in the transaction opening the incident.
    deadlines: Mapping[str, datetime] = field(default_factory=dict)
    #: The ground (lon, lat) under each of the event's boxes, in its order; stored with the boxes.
    ground_points: Sequence[LonLat | None] = ()
    #: DISPATCHED (filed as it opens) or REPORTED (waiting for a reviewer to file it; no deadlines yet).
    state: IncidentState = IncidentState.DISPATCHED


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    unit_prefix: str | None = None
    kind: EventKind | None = None
    states: Sequence[IncidentState] | None = None
    since: datetime | None = None
    until: datetime | None = None
    assignee_id: str | None = None


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One row of an incident's append-only log: who moved it from which state to which, when and why."""

    incident_id: uuid.UUID
    from_state: IncidentState | None
    to_state: IncidentState
    action: str
    actor: str
    at: datetime
    note: str = ""
    #: Ids of photos the handler attached to this step.
    attachments: tuple[str, ...] = ()
    #: Why a case was returned or rejected: a code of router.lifecycle.REASONS.
    reason: str | None = None
    #: The verifier's rating of a closed case, 1 (poor) to 5 (excellent).
    rating: int | None = None


@dataclass(frozen=True, slots=True)
class StoredBox:
    """One box of a stored event, with the ground point under its bottom-centre (None: none known)."""

    xyxy: XYXY
    confidence: float
    label: str
    track_id: int | None
    ground: LonLat | None


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A stored event of an incident, with its evidence (snapshots, clip) described, not loaded."""

    id: uuid.UUID
    kind: EventKind
    camera_id: str
    zone_name: str | None
    started_at: datetime
    confidence: float
    person_count: int | None
    boxes: tuple[StoredBox, ...]
    lonlat: LonLat | None
    evidence: tuple[Evidence, ...] = ()
    ended_at: datetime | None = None
