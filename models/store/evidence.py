"""Camera evidence (snapshots, clips) of stored events, and what a viewer needs to scope it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from models.records import EvidenceBlob
from models.store.base import NotFound, Repository


@dataclass(frozen=True, slots=True)
class StoredEvidence:
    id: str
    media_type: str
    sha256: str
    event_id: uuid.UUID
    #: The owning unit of the event's incident: who may see it (None for an event of no incident).
    unit_code: str | None
    #: When retention pruned its bytes (then ``get`` returns none) and why; None while it is held.
    pruned_at: datetime | None = None
    pruned_reason: str | None = None


class EvidenceRepository(Repository):
    async def get(self, evidence_id: str) -> tuple[StoredEvidence, bytes]:
        row = await self.pool.fetchrow(
            "SELECT v.id, v.media_type, v.sha256, v.data, i.unit_code, v.event_id, v.pruned_at,"
            " v.pruned_reason FROM evidence v"
            " JOIN events e ON e.id = v.event_id LEFT JOIN incidents i ON i.id = e.incident_id"
            " WHERE v.id = $1",
            evidence_id,
        )
        if row is None:
            raise NotFound(f"no evidence {evidence_id}")
        meta = StoredEvidence(
            row["id"],
            row["media_type"],
            row["sha256"],
            row["event_id"],
            row["unit_code"],
            row["pruned_at"],
            row["pruned_reason"],
        )
        return meta, bytes(row["data"])

    async def add(self, event_id: uuid.UUID, blob: EvidenceBlob) -> str:
        """Attach evidence to an event already stored (a clip finishes seconds after its event START).

        The incident's "incident.updated" outbox row is written in the same transaction, so pages showing
        the incident refresh and find the new evidence. Returns the evidence id; NotFound if no such event.
        The same blob added again (a redelivered clip) returns the stored row's id and writes nothing.
        """
        evidence_id = uuid.uuid4().hex
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow("SELECT incident_id FROM events WHERE id = $1", event_id)
            if row is None:
                raise NotFound(f"no event {event_id}")
            inserted = await conn.fetchval(
                "INSERT INTO evidence (id, event_id, role, media_type, sha256, size, data)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7)"
                " ON CONFLICT (event_id, role, sha256) DO NOTHING RETURNING id",
                evidence_id,
                event_id,
                blob.role,
                blob.media_type,
                blob.sha256,
                len(blob.data),
                blob.data,
            )
            if inserted is None:
                stored: str = await conn.fetchval(
                    "SELECT id FROM evidence WHERE event_id = $1 AND role = $2 AND sha256 = $3",
                    event_id,
                    blob.role,
                    blob.sha256,
                )
                return stored
            if row["incident_id"] is not None:
                await conn.execute(
                    "INSERT INTO outbox (topic, incident_id, payload) VALUES ('incident.updated', $1, $2)",
                    row["incident_id"],
                    {
                        "incident_id": str(row["incident_id"]),
                        "event_id": str(event_id),
                        "evidence_id": evidence_id,
                        "role": blob.role,
                    },
                )
        return evidence_id
