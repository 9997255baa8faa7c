"""Request bodies (unknown fields forbidden) and JSON shapes of what the API returns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from models.records import IncidentState, Severity


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str = Field(description="dispatch, accept, start, resolve, verify, close, return, reject, reopen")
    note: str = Field(default="", max_length=2000)
    attachments: list[str] = Field(
        default_factory=list, max_length=10, description="Ids from POST /api/incidents/{id}/attachments"
    )
    expected_state: IncidentState | None = Field(
        default=None, description="Refuse with 409 if the incident is no longer in this state"
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def incident_json(row: dict[str, Any]) -> dict[str, Any]:
    """The public shape of an incident: every element a county audit asks for, on one object."""
    return {
        "id": str(row["id"]),
        "title": row["title"],
        "kind": row["kind"],
        "state": row["state"],
        "severity": Severity(row["severity"]).name.lower(),
        "severity_level": row["severity"],
        "tier": row["tier"],
        "department": row["department"],
        "category_code": row["category_code"],
        "place": {
            "lon": row["lon"],
            "lat": row["lat"],
            "located_by": row["located_by"],
            "grid_code": row["grid_code"],
            "grid_match": row["grid_match"],
            "unit_code": row["unit_code"],
            "chain": row["chain"],
        },
        "camera_id": row["camera_id"],
        "assignee": (
            {"worker_id": row["assignee_id"], "name": row["assignee_name"], "phone": row["assignee_phone"]}
            if row["assignee_id"]
            else None
        ),
        "duty": row["duty"],
        "opened_at": _iso(row["opened_at"]),
        "last_seen_at": _iso(row["last_seen_at"]),
        "accept_by": _iso(row["accept_by"]),
        "late": row["late"],
        "event_count": row["event_count"],
        "version": row["version"],
    }


def log_json(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "at": _iso(entry["at"])}


def event_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "kind": row["kind"],
        "camera_id": row["camera_id"],
        "zone_name": row["zone_name"],
        "started_at": _iso(row["started_at"]),
        "confidence": row["confidence"],
        "person_count": row["person_count"],
        "detections": row["detections"],
        "lon": row["lon"],
        "lat": row["lat"],
        "evidence": [{**e, "url": f"/api/evidence/{e['id']}"} for e in row["evidence"]],
    }


class Page(BaseModel):
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


def parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
