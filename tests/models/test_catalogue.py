"""The event catalogue: each EventKind has its 数字城管 class and sub-class; a versioned, checked file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from models.catalogue import CATALOGUE, CATALOGUE_FILE, CatalogueError, load, parse
from models.records import EventKind


def test_every_kind_has_a_class_and_sub_class() -> None:
    for kind in EventKind:
        entry = CATALOGUE.of(kind)
        assert entry.major and entry.minor and entry.version == CATALOGUE.version
    assert CATALOGUE.of(EventKind.FIRE).path == "突发事件/火灾"
    assert CATALOGUE.of(EventKind.SMOKE).path == "突发事件/火灾"
    assert CATALOGUE.of(EventKind.CROWD).path == "突发事件/人群聚集"
    assert CATALOGUE.of(EventKind.OCCUPATION).path == "街面秩序/占道经营"


def test_an_occupation_says_what_occupies() -> None:
    assert CATALOGUE.of(EventKind.OCCUPATION, "vehicle").path == "街面秩序/机动车乱停放（消防通道占用） 0505"
    assert CATALOGUE.of(EventKind.OCCUPATION, "stall").minor == "占道经营"
    assert CATALOGUE.of(EventKind.OCCUPATION, "goods").minor == "店外经营"
    assert CATALOGUE.of(EventKind.OCCUPATION, "debris").path == "街面秩序/乱堆物堆料 0507"
    # An unknown occupant, or another kind, keeps the kind's own entry.
    assert CATALOGUE.of(EventKind.OCCUPATION, "cat") == CATALOGUE.of(EventKind.OCCUPATION)
    assert CATALOGUE.of(EventKind.FIRE, "vehicle") == CATALOGUE.of(EventKind.FIRE)


def test_codes_only_where_known_and_shown_after_the_path() -> None:
    codes = {name: CATALOGUE.of(EventKind.OCCUPATION, name).code for name in CATALOGUE.occupants}
    assert codes == {"vehicle": "0505", "stall": "", "goods": "0504", "debris": "0507"}
    assert CATALOGUE.of(EventKind.LINE_CROSSING).code == "0505"
    # No public numbering was found for these: no code rather than a guessed one.
    assert not CATALOGUE.of(EventKind.FIRE).code and not CATALOGUE.of(EventKind.CROWD).code


def test_the_occupant_is_read_from_the_labels_of_the_boxes_first_in_file_order() -> None:
    assert CATALOGUE.occupant_of(["vehicle"]) == "vehicle"
    assert CATALOGUE.occupant_of(["stall", "person"]) == "stall"
    assert CATALOGUE.occupant_of(["object"]) == "debris"  # the class-agnostic static mass
    assert CATALOGUE.occupant_of(["goods"]) == "goods"  # a static mass where the zone says goods
    assert CATALOGUE.occupant_of(["object", "vehicle"]) == "vehicle"  # a van beside a pile: a fire lane
    assert CATALOGUE.occupant_of(["person"]) is None
    assert CATALOGUE.occupant_of([]) is None


def document() -> dict[str, object]:
    loaded: dict[str, object] = json.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("version"), "version"),
        (lambda d: d["kinds"].pop("fire"), "no entry for fire"),
        (lambda d: d["kinds"].update(flood={"class": "a", "subclass": "b"}), "unknown kinds flood"),
        (lambda d: d["kinds"]["crowd"].update(subclass=""), "kinds.crowd: class and subclass"),
        (lambda d: d["kinds"]["occupation"]["by_occupant"].update(cart=3), "by_occupant.cart"),
        (lambda d: d["kinds"]["fire"].update(code="411"), "kinds.fire: code must be four digits"),
        (lambda d: d["kinds"]["fire"].update(code="04-11"), "kinds.fire: code must be four digits"),
        (
            lambda d: d["kinds"]["occupation"]["by_occupant"]["stall"].update(labels="object"),
            "by_occupant.stall.labels: needs a list",
        ),
        (
            lambda d: d["kinds"]["occupation"]["by_occupant"]["stall"].update(labels=["object"]),
            "object already names another occupant",
        ),
    ],
)
def test_a_broken_catalogue_is_refused_with_where(change: Callable[[Any], object], message: str) -> None:
    broken = document()
    change(broken)
    with pytest.raises(CatalogueError, match=message):
        parse(broken)


def test_an_unreadable_file_names_itself(tmp_path: Path) -> None:
    bad = tmp_path / "catalogue.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"catalogue\.json"):
        load(bad)
