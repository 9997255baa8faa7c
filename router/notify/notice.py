"""What one notification says about one incident, independent of the channel it goes through."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Notice:
    #: The outbox row id: the idempotency key receivers deduplicate on.
    outbox_id: int
    topic: str
    incident_id: uuid.UUID
    title: str
    kind: str
    state: str
    severity: int
    department: str
    unit_code: str
    #: Where the digest groups it: the grid, or the higher unit the incident fell back to.
    grid_code: str | None
    place: str
    lonlat: tuple[float, float]
    opened_at: datetime
    event_count: int
    late: bool
    assignee_name: str | None
    assignee_phone: str | None
    accept_by: datetime | None = None

    @property
    def digest_group(self) -> str:
        return self.grid_code or self.unit_code
