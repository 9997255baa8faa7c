"""Photos and files a handler attaches while working an incident (not camera evidence)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from models.store.base import Repository


@dataclass(frozen=True, slots=True)
class StoredAttachment:
    id: str
    media_type: str
    sha256: str
    incident_id: uuid.UUID
    #: The owning unit of its incident: who may see it.
    unit_code: str


class AttachmentRepository(Repository):
    async def add(
        self,
        attachment_id: str,
        incident_id: uuid.UUID,
        media_type: str,
        sha256: str,
        data: bytes,
        uploaded_by: str,
    ) -> None:
        await self.pool.execute(
            "INSERT INTO incident_attachments (id, incident_id, media_type, sha256, size, data, uploaded_by)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7)",
            attachment_id,
            incident_id,
            media_type,
            sha256,
            len(data),
            data,
            uploaded_by,
        )

    async def get(self, attachment_id: str) -> tuple[StoredAttachment, bytes] | None:
        row = await self.pool.fetchrow(
            "SELECT a.id, a.media_type, a.sha256, a.data, a.incident_id, i.unit_code"
            " FROM incident_attachments a JOIN incidents i ON i.id = a.incident_id WHERE a.id = $1",
            attachment_id,
        )
        if row is None:
            return None
        meta = StoredAttachment(
            row["id"], row["media_type"], row["sha256"], row["incident_id"], row["unit_code"]
        )
        return meta, bytes(row["data"])
