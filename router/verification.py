"""Camera-verified closure, the policy: which kinds the camera verifies, and how long it must see them clear.

A person's word that a stall or crowd is gone is checked by the same camera and zone rule that reported it
(router/centre/verifier.py asks, detect/analysis/watch.py judges). A kind without a window is verified by a
person only; the site file's ``policies.verification`` changes a window or turns a kind off (0 minutes).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType

from models.records import EventKind

#: How long the zone must stay clear. Occupation rules need a minute of dwell to fire at all, so their
#: window is longer: a quiet quarter of an hour means the stall really left. Fire and smoke are over or not
#: within minutes.
CLEAR_WINDOWS: Mapping[EventKind, timedelta] = MappingProxyType(
    {
        EventKind.CROWD: timedelta(minutes=10),
        EventKind.OCCUPATION: timedelta(minutes=15),
        EventKind.FIRE: timedelta(minutes=5),
        EventKind.SMOKE: timedelta(minutes=5),
    }
)
