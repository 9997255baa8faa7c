"""store.evidence: a clip stored after its event is listed with the event, served, and announced."""

from __future__ import annotations

import pytest

from models.records import Evidence, EvidenceBlob
from models.store import NotFound, Store
from tests.models.store.samples import crowd_event, crowd_opening, sample_grid


async def test_evidence_added_later_is_listed_served_and_announced(store: Store) -> None:
    """A clip finishes seconds after its event was stored: it joins the event and the pages hear of it."""
    await store.grids.replace([sample_grid()])
    event = crowd_event()
    incident_id, _ = await store.events.record(event, crowd_opening())
    clip = EvidenceBlob("clip", "video/mp4", "cd" * 32, b"\x00\x00\x00\x20ftypisom")
    evidence_id = await store.evidence.add(event.id, clip)
    [listed] = (await store.incidents.events(incident_id))[0].evidence
    assert listed == Evidence(
        id=evidence_id, media_type="video/mp4", sha256="cd" * 32, size=len(clip.data), role="clip"
    )
    meta, data = await store.evidence.get(evidence_id)
    assert data == clip.data and meta.media_type == "video/mp4"
    outbox = await store.outbox.pending()
    assert [o.topic for o in outbox] == ["incident.opened", "incident.updated"]
    assert outbox[1].payload == {
        "incident_id": str(incident_id),
        "event_id": str(event.id),
        "evidence_id": evidence_id,
        "role": "clip",
    }
    with pytest.raises(NotFound):
        await store.evidence.add(crowd_event().id, clip)
    assert len(await store.outbox.pending()) == 2
