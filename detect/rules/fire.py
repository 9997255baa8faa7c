"""Fire or smoke: k of the last n analysed frames show it in the zone (see ``detect.rules.voting``).

Fire must be reported within seconds, so it votes instead of dwelling. A minimum box area and a minimum
confidence drop the small, unsure hits that sunsets, tail lights and orange clothing produce; both defaults
were chosen on the tuning half of the public eval set (docs/detection.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from detect.rules.base import Model
from detect.rules.fire_temporal import FIRE_MIN_CHANGE, JITTER, SMOKE_MIN_CHANGE, TemporalStage
from detect.rules.voting import VotingRule
from detect.zones import centre_in_zone
from models.records import Detection, EventKind, Zone, ZoneKind

_LABEL = {EventKind.FIRE: "fire", EventKind.SMOKE: "smoke"}

#: The fire model's confidence at which an analysed frame votes for fire or smoke. Chosen by
#: ``gridwatch eval --sweep`` on the tuning half (best F1 counting street-scene alarms as false): the model
#: is under-confident on real flames (0.12-0.25 on several) but rarely calls anything else fire, while
#: at two input sizes grey haze and greyscale pictures come out as "smoke" at up to 0.5.
FIRE_MIN_CONFIDENCE = 0.12
SMOKE_MIN_CONFIDENCE = 0.54
_MIN_CONFIDENCE = {EventKind.FIRE: FIRE_MIN_CONFIDENCE, EventKind.SMOKE: SMOKE_MIN_CONFIDENCE}
_MIN_CHANGE = {EventKind.FIRE: FIRE_MIN_CHANGE, EventKind.SMOKE: SMOKE_MIN_CHANGE}


class FireRule(VotingRule):
    #: Fire and smoke boxes come from the fire model, which runs on only some frames: the analyzer feeds this
    #: rule those frames alone, so the frames between never vote "no fire" and k of n can fill.
    model = Model.FIRE

    def __init__(
        self,
        zone: Zone,
        *,
        kind: EventKind = EventKind.FIRE,
        k: int = 3,
        n: int = 5,
        min_area_px: float = 400.0,
        min_confidence: float | None = None,
        update_interval_seconds: float = 30.0,
        min_change: float | None = None,
        frame_size: tuple[int, int] | None = None,
    ) -> None:
        """``min_change``: the temporal stage's required area change (``detect/rules/fire_temporal.py``);
        0 turns the stage off, leaving the k-of-n votes alone (still pictures in ``gridwatch eval``).
        ``frame_size``: the camera's picture (width, height), whose size sets how far a box may jitter
        without counting as a change; None: any move counts."""
        if zone.kind is not ZoneKind.FIRE:
            raise ValueError(f"zone {zone.name!r} is a {zone.kind} zone, not a fire zone")
        if kind not in _LABEL:
            raise ValueError(f"FireRule watches fire or smoke, not {kind}")
        super().__init__(
            zone,
            kind=kind,
            label=_LABEL[kind],
            # Fire and smoke have no foot on the ground: a plume's box bottom can lie anywhere.
            where=centre_in_zone,
            k=k,
            n=n,
            min_area_px=min_area_px,
            min_confidence=_MIN_CONFIDENCE[kind] if min_confidence is None else min_confidence,
            update_interval_seconds=update_interval_seconds,
        )
        change = _MIN_CHANGE[kind] if min_change is None else min_change
        if change < 0:
            raise ValueError(f"min_change must be >= 0, got {change}")
        jitter_px = JITTER * max(frame_size) if frame_size is not None else 0.0
        self._stage = TemporalStage(k=k, n=n, min_change=change, jitter_px=jitter_px) if change > 0 else None

    def observe(self, hits: Sequence[Detection]) -> None:
        if self._stage is not None:
            self._stage.observe(hits)

    def corroborated(self) -> bool:
        return self._stage is None or self._stage.corroborated()


#: What the fire detector itself should be asked for: below every rule's threshold, so the rules decide and
#: a threshold change needs no model reload.
DETECTOR_CONFIDENCE_FLOOR = 0.10

#: How often the fire model looks at a camera with a fire zone, by default. Flames grow over tens of seconds
#: and k=3 of n=5 votes then confirm a fire within about 5 s of the first hit, while the two-scale model
#: costs several person-model frames: running it on every frame of every camera would halve capacity.
FIRE_EVERY_SECONDS = 2.0
