"""What one notification says about one incident, independent of the channel it goes through."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from models.incidents import Incident


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
    resolve_by: datetime | None = None
    #: Where the case opens in the centre's console, when the site names its address (site.public_url).
    link: str | None = None
    #: An occupation's occupant (vehicle, stall, goods, debris): which catalogue entry the texts show.
    occupant: str | None = None

    @property
    def digest_group(self) -> str:
        return self.grid_code or self.unit_code

    @classmethod
    def of(cls, outbox_id: int, topic: str, incident: Incident) -> Notice:
        """The notice of one outbox row about ``incident`` as it stands now."""
        names = [unit.name for unit in incident.chain]
        return cls(
            outbox_id=outbox_id,
            topic=topic,
            incident_id=incident.id,
            title=incident.title,
            kind=incident.kind.value,
            state=incident.state.value,
            severity=int(incident.severity),
            department=incident.department,
            unit_code=incident.unit_code,
            grid_code=incident.grid_code,
            place=" · ".join(names[1:] or names),
            lonlat=incident.lonlat,
            opened_at=incident.opened_at,
            event_count=incident.event_count,
            late=incident.late,
            assignee_name=incident.assignee_name,
            assignee_phone=incident.assignee_phone,
            accept_by=incident.accept_by,
            resolve_by=incident.resolve_by,
            occupant=incident.occupant,
        )

    def linked(self, base_url: str | None) -> Notice:
        """This notice with the link to its case in the console at ``base_url`` (unchanged without one)."""
        if not base_url:
            return self
        return replace(self, link=f"{base_url.rstrip('/')}/?incident={self.incident_id}")
