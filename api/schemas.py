"""Request bodies (unknown fields forbidden) and the JSON shapes of what the API returns, from records."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from models.catalogue import CATALOGUE
from models.incidents import EventRecord, Incident, LogEntry
from models.records import EventKind, IncidentState
from router.centre.feed import FeedMessage


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str = Field(
        description="file, dispatch, reassign, escalate, accept, depart, start, resolve, verify, close, "
        "evaluate, return, reject, reopen: the incident's `actions` lists those the caller may take now"
    )
    note: str = Field(default="", max_length=2000)
    attachments: list[str] = Field(
        default_factory=list, max_length=10, description="Ids from POST /api/incidents/{id}/attachments"
    )
    expected_state: IncidentState | None = Field(
        default=None, description="Refuse with 409 if the incident is no longer in this state"
    )
    reason: str | None = Field(
        default=None, max_length=40, description="return and reject: why, a code of GET /api/casework"
    )
    rating: int | None = Field(default=None, ge=1, le=5, description="evaluate: 1 (poor) to 5 (excellent)")
    assignee_id: str | None = Field(
        default=None, max_length=64, description="reassign (required), file and dispatch: who gets the case"
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def catalogue_json(kind: EventKind, occupant: str | None = None) -> dict[str, str | None]:
    entry = CATALOGUE.of(kind, occupant)
    return {
        "major": entry.major,
        "minor": entry.minor,
        "code": entry.code or None,
        "detail": entry.detail,
        "path": entry.path,
        "version": entry.version,
        "occupant": occupant if kind is EventKind.OCCUPATION else None,
    }


def incident_json(incident: Incident) -> dict[str, Any]:
    """The public shape of an incident: every element a county audit asks for, on one object."""
    return {
        "id": str(incident.id),
        "title": incident.title,
        "kind": incident.kind.value,
        "state": incident.state.value,
        "severity": incident.severity.name.lower(),
        "severity_level": int(incident.severity),
        "tier": incident.tier.value,
        "department": incident.department,
        "category_code": incident.category_code,
        "catalogue": catalogue_json(incident.kind, incident.occupant),
        "place": {
            "lon": incident.lonlat[0],
            "lat": incident.lonlat[1],
            "located_by": incident.located_by.value,
            "grid_code": incident.grid_code,
            "grid_match": incident.grid_match.value,
            "unit_code": incident.unit_code,
            "chain": [{"code": u.code, "name": u.name, "level": int(u.level)} for u in incident.chain],
        },
        "camera_id": incident.camera_id,
        "assignee": (
            {
                "worker_id": incident.assignee_id,
                "name": incident.assignee_name,
                "phone": incident.assignee_phone,
            }
            if incident.assignee_id
            else None
        ),
        "duty": dict(incident.duty),
        "opened_at": _iso(incident.opened_at),
        "last_seen_at": _iso(incident.last_seen_at),
        "accept_by": _iso(incident.accept_by),
        "late": incident.late,
        "event_count": incident.event_count,
        "version": incident.version,
    }


def log_json(entry: LogEntry) -> dict[str, Any]:
    return {
        "from_state": entry.from_state.value if entry.from_state else None,
        "to_state": entry.to_state.value,
        "action": entry.action,
        "actor": entry.actor,
        "at": _iso(entry.at),
        "note": entry.note,
        "attachments": list(entry.attachments),
    }


def event_json(event: EventRecord) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "kind": event.kind.value,
        "camera_id": event.camera_id,
        "zone_name": event.zone_name,
        "started_at": _iso(event.started_at),
        "confidence": event.confidence,
        "person_count": event.person_count,
        "detections": [
            {
                "xyxy": list(b.xyxy),
                "confidence": b.confidence,
                "label": b.label,
                "track_id": b.track_id,
                "ground": list(b.ground) if b.ground is not None else None,
            }
            for b in event.boxes
        ],
        "lon": event.lonlat[0] if event.lonlat else None,
        "lat": event.lonlat[1] if event.lonlat else None,
        "evidence": [
            {
                "id": e.id,
                "role": e.role,
                "media_type": e.media_type,
                "sha256": e.sha256,
                "size": e.size,
                "url": f"/api/evidence/{e.id}",
            }
            for e in event.evidence
        ],
    }


def feed_json(message: FeedMessage) -> dict[str, Any]:
    """One live-feed message as the pages receive it (server-sent event data)."""
    return {
        "type": message.topic,
        "outbox_id": message.outbox_id,
        "incident": incident_json(message.incident),
    }


def parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
