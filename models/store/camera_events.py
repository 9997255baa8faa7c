"""A camera's own event added as context to the camera's open incident (a site's ``attach`` rule)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from models.store.base import Repository

#: The log action of an attached camera event; the actor is the camera, as for camera-verified closure.
ATTACH_ACTION = "camera_event"


class CameraEventRepository(Repository):
    async def attach(self, camera_id: str, at: datetime, note: str) -> uuid.UUID | None:
        """Log the event on the camera's most recently seen open incident; None when it has none."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT id, state FROM incidents WHERE camera_id = $1 AND gridwatch_open_state(state)"
                " ORDER BY last_seen_at DESC LIMIT 1 FOR UPDATE",
                camera_id,
            )
            if row is None:
                return None
            incident_id: uuid.UUID = row["id"]
            await conn.execute(
                "INSERT INTO incident_log (incident_id, from_state, to_state, action, actor, at, note)"
                " VALUES ($1, $2, $2, $3, 'camera', $4, $5)",
                incident_id,
                row["state"],
                ATTACH_ACTION,
                at,
                note,
            )
            await conn.execute(
                "INSERT INTO outbox (topic, incident_id, payload) VALUES ('incident.updated', $1, $2::jsonb)",
                incident_id,
                json.dumps({"incident_id": str(incident_id), "camera_event": note}),
            )
        return incident_id
