"""MQTT topics and payloads, Frigate-style: what a dashboard subscribed to the centre's broker receives.

    <prefix>/incidents            every incident change: {"id": key, "type": opened|updated|closed, …}
    <prefix>/<camera>/events      every event an analysis node reported, with the incident it joined
    <prefix>/<camera>/available   "online" / "offline", retained
    <prefix>/available            the centre itself, "online" / "offline", retained, with a last will

Every incident and event message carries ``id``, the outbox row's id, as its idempotency key: delivery is at
least once (a message whose PUBACK was lost is sent again), so a subscriber that must not count twice keeps
the keys it has seen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.incidents import Incident
from models.records import IncidentState

ONLINE = "online"
OFFLINE = "offline"
#: States after which an incident changes no more unless reopened: its message type is "closed".
CLOSING_STATES = frozenset({IncidentState.CLOSED, IncidentState.REJECTED})


@dataclass(frozen=True, slots=True)
class MqttMessage:
    topic: str
    payload: bytes
    retain: bool = False


@dataclass(frozen=True, slots=True)
class EventSummary:
    """The event an outbox row announces (a START that opened or joined the incident)."""

    id: str
    kind: str
    camera_id: str
    zone_name: str | None
    started_at: datetime
    confidence: float
    person_count: int | None


def topic_level(name: str) -> str:
    """A camera id as one topic level: '/' would split it, '+' and '#' are wildcards to subscribers."""
    return re.sub(r"[/+#\s]", "_", name) or "_"


def node_topic(prefix: str) -> str:
    return f"{prefix}/available"


def availability(prefix: str, camera_id: str, online: bool) -> MqttMessage:
    state = ONLINE if online else OFFLINE
    return MqttMessage(f"{prefix}/{topic_level(camera_id)}/available", state.encode(), retain=True)


def change_type(topic: str, row_state: str | None) -> str:
    """opened, closed or updated: what a dashboard does with the change (add, drop, refresh a card)."""
    if topic == "incident.opened":
        return "opened"
    if row_state is not None and row_state in {s.value for s in CLOSING_STATES}:
        return "closed"
    return "updated"


def incident_body(incident: Incident) -> dict[str, Any]:
    return {
        "id": str(incident.id),
        "kind": incident.kind.value,
        "title": incident.title,
        "state": incident.state.value,
        "severity": int(incident.severity),
        "unit": incident.unit_code,
        "grid": incident.grid_code,
        "camera": incident.camera_id,
        "lonlat": list(incident.lonlat),
        "assignee": (
            {"id": incident.assignee_id, "name": incident.assignee_name} if incident.assignee_id else None
        ),
        "opened_at": incident.opened_at.isoformat(),
        "last_seen_at": incident.last_seen_at.isoformat(),
        "accept_by": _iso(incident.accept_by),
        "arrive_by": _iso(incident.arrive_by),
        "resolve_by": _iso(incident.resolve_by),
        "late": incident.late,
        "escalation_level": incident.escalation_level,
        "event_count": incident.event_count,
    }


def incident_messages(
    prefix: str,
    outbox_id: int,
    topic: str,
    row: Mapping[str, Any],
    created_at: datetime,
    incident: Incident,
    event: EventSummary | None = None,
) -> list[MqttMessage]:
    """The messages of one outbox row: the incident change, and the event on its camera's topic if any.

    ``row`` is the outbox row's payload: a state change names the state it moved to, which may already be
    behind the incident's current state when the row is delivered late; the type follows the row.
    """
    state = row.get("state")
    body = {
        "id": outbox_id,
        "type": change_type(topic, state if isinstance(state, str) else None),
        "change": topic,
        "at": created_at.isoformat(),
        "incident": incident_body(incident),
    }
    messages = [MqttMessage(f"{prefix}/incidents", _json(body))]
    if event is not None:
        event_body = {
            "id": outbox_id,
            "type": "new",
            "incident_id": str(incident.id),
            "incident_opened": topic == "incident.opened",
            "event": {
                "id": event.id,
                "kind": event.kind,
                "camera": event.camera_id,
                "zone": event.zone_name,
                "started_at": event.started_at.isoformat(),
                "confidence": round(event.confidence, 4),
                "person_count": event.person_count,
            },
        }
        messages.append(MqttMessage(f"{prefix}/{topic_level(event.camera_id)}/events", _json(event_body)))
    return messages


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _json(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
