"""Camera-verified closure: a resolved crowd or occupation is verified only by the camera staying clear.

The handler's word that a stall is gone is checked by the same camera and zone rule that reported it:
if the rule stays quiet for the kind's window after resolution the incident is verified, and if it
fires again the incident is reopened with what the camera saw as evidence. Pure: the caller passes
the sightings since resolution (store.verification.sightings) and the current instant.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from models.incidents import Sighting
from models.records import EventKind

#: How long the zone must stay clear. Occupation rules need a minute of dwell to fire at all, so their
#: window is longer: a quiet quarter of an hour means the stall really left.
DEFAULT_CLEAR_WINDOWS: Mapping[EventKind, timedelta] = MappingProxyType(
    {EventKind.CROWD: timedelta(minutes=10), EventKind.OCCUPATION: timedelta(minutes=15)}
)


class Verdict(enum.StrEnum):
    VERIFY = "verify"
    REOPEN = "reopen"
    WAIT = "wait"
    NOT_CAMERA_VERIFIED = "not_camera_verified"  # other kinds are verified by a person


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    #: When to decide again (WAIT): the end of the clear window.
    recheck_at: datetime | None = None
    #: Evidence ids to attach to the reopen.
    evidence_ids: tuple[str, ...] = ()
    note: str = ""


def decide(
    kind: EventKind,
    resolved_at: datetime,
    now: datetime,
    sightings: Sequence[Sighting],
    windows: Mapping[EventKind, timedelta] = DEFAULT_CLEAR_WINDOWS,
) -> Decision:
    if resolved_at.tzinfo is None or now.tzinfo is None:
        raise ValueError("verification needs timezone-aware instants")
    window = windows.get(kind)
    if window is None:
        return Decision(Verdict.NOT_CAMERA_VERIFIED)
    seen = [s for s in sightings if _after(s, resolved_at) and s.started_at <= now]
    if seen:
        evidence = tuple(e for s in seen for e in s.evidence_ids)
        first = min(s.started_at for s in seen)
        minutes = (first - resolved_at).total_seconds() / 60
        note = f"camera saw {kind.value} again {max(minutes, 0):.0f} min after resolution"
        note += f" ({len(seen)} events)"
        return Decision(Verdict.REOPEN, evidence_ids=evidence, note=note)
    clear_until = resolved_at + window
    if now < clear_until:
        return Decision(Verdict.WAIT, recheck_at=clear_until)
    return Decision(Verdict.VERIFY, note=f"camera clear for {window.total_seconds() / 60:.0f} min")


def _after(sighting: Sighting, resolved_at: datetime) -> bool:
    if sighting.started_at >= resolved_at:
        return True
    return sighting.ended_at is not None and sighting.ended_at > resolved_at
