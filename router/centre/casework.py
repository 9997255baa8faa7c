"""What people do to incidents, each written once: move one along the state machine, attach a photo.

The API checks who may see an incident before it calls here; these use cases check the state machine,
write through the store (one transaction with the log row and the outbox row) and ring the outbox bell,
so the change reaches the wall and the chat groups at once.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from models.clock import Clock
from models.incidents import Incident
from models.records import IncidentState
from models.store import StaleVersion, Store
from router.centre.bell import OutboxBell
from router.lifecycle import Action, transition

#: Accepted handler photo types and the bytes each must start with.
PHOTO_TYPES = {"image/jpeg": b"\xff\xd8", "image/png": b"\x89PNG"}


class PhotoRefused(ValueError):
    """Not a photo we keep: ``unsupported`` when the type is wrong, else the bytes do not match it."""

    def __init__(self, message: str, *, unsupported: bool) -> None:
        super().__init__(message)
        self.unsupported = unsupported


@dataclass(frozen=True, slots=True)
class Attachment:
    id: str
    sha256: str
    size: int


class Casework:
    def __init__(self, store: Store, clock: Clock, bell: OutboxBell) -> None:
        self._store = store
        self._clock = clock
        self._bell = bell

    async def transition(
        self,
        incident: Incident,
        action: Action,
        actor: str,
        *,
        note: str = "",
        attachments: Sequence[str] = (),
        expected_state: IncidentState | None = None,
    ) -> Incident:
        """Apply `action` to the incident as the caller read it; returns it as it stands afterwards.

        IllegalTransition when the state machine forbids the step; StaleVersion when the incident is not
        in `expected_state`, or moved on since it was read.
        """
        if expected_state is not None and expected_state is not incident.state:
            raise StaleVersion(f"incident is {incident.state.value}, not {expected_state.value}")
        entry = transition(
            incident.id, incident.state, action, actor, self._clock.now(), note, tuple(attachments)
        )
        await self._store.incidents.apply(entry)
        self._bell.ring()
        return await self._store.incidents.get(incident.id)

    async def attach_photo(
        self, incident: Incident, media_type: str, data: bytes, uploaded_by: str
    ) -> Attachment:
        """Keep a handler's photo of the scene with the incident; PhotoRefused when it is not one."""
        if media_type not in PHOTO_TYPES:
            raise PhotoRefused(
                f"photos must be one of {', '.join(sorted(PHOTO_TYPES))}, not {media_type!r}",
                unsupported=True,
            )
        if not data.startswith(PHOTO_TYPES[media_type]):
            raise PhotoRefused(f"the body is not a {media_type} image", unsupported=False)
        attachment_id = uuid.uuid4().hex
        digest = hashlib.sha256(data).hexdigest()
        await self._store.attachments.add(attachment_id, incident.id, media_type, digest, data, uploaded_by)
        return Attachment(attachment_id, digest, len(data))
