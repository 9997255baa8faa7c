"""The event catalogue: each EventKind's 数字城管 class and sub-class (GB/T 30428.2), as versioned data.

``models/catalogue.json`` is the one place these names live; it is read and checked once, at import: every
EventKind must have an entry with a non-empty class and sub-class, and nothing else may be there. An
occupation names what occupies (``by_occupant``: vehicle in a fire lane, stall, goods, debris), chosen from
the labels of its boxes (``labels`` of each occupant, first in file order wins); without one the kind's own
entry stands.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from models.records import EventKind

CATALOGUE_FILE = Path(__file__).with_name("catalogue.json")


class CatalogueError(ValueError):
    """The catalogue file is malformed or misses a kind: the service does not start with it."""


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    #: 大类, e.g. 突发事件.
    major: str
    #: 小类, e.g. 火灾.
    minor: str
    #: What the class alone does not say (消防通道占用), or "".
    detail: str
    version: str
    #: The standard's four-digit event code (大类 + 小类, 0505), where it is known; else "".
    code: str = ""

    @property
    def path(self) -> str:
        """How it is shown: 大类/小类, with the detail in brackets and the code after it where known."""
        shown = f"{self.major}/{self.minor}" + (f"（{self.detail}）" if self.detail else "")
        return f"{shown} {self.code}" if self.code else shown


@dataclass(frozen=True, slots=True)
class Catalogue:
    version: str
    kinds: MappingProxyType[EventKind, CatalogueEntry]
    occupants: MappingProxyType[str, CatalogueEntry]
    #: (detection label, occupant) in the file's order of precedence.
    occupant_labels: tuple[tuple[str, str], ...] = ()

    def of(self, kind: EventKind | str, occupant: str | None = None) -> CatalogueEntry:
        if occupant is not None and EventKind(kind) is EventKind.OCCUPATION and occupant in self.occupants:
            return self.occupants[occupant]
        return self.kinds[EventKind(kind)]

    def occupant_of(self, labels: Iterable[str]) -> str | None:
        """What occupies, from the labels of an occupation's boxes; None when no label names an occupant."""
        present = set(labels)
        return next((occupant for label, occupant in self.occupant_labels if label in present), None)


def _entry(where: str, raw: Any, version: str) -> CatalogueEntry:
    if not isinstance(raw, dict):
        raise CatalogueError(f"{where}: needs an object with class and subclass")
    major, minor, detail = raw.get("class"), raw.get("subclass"), raw.get("detail", "")
    if not isinstance(major, str) or not major or not isinstance(minor, str) or not minor:
        raise CatalogueError(f"{where}: class and subclass must be non-empty strings")
    if not isinstance(detail, str):
        raise CatalogueError(f"{where}: detail must be a string")
    code = raw.get("code", "")
    if not isinstance(code, str) or (code and not (len(code) == 4 and code.isdigit())):
        raise CatalogueError(f"{where}: code must be four digits (大类 + 小类, e.g. 0505), got {code!r}")
    return CatalogueEntry(major, minor, detail, version, code)


def parse(document: Any) -> Catalogue:
    if (
        not isinstance(document, dict)
        or not isinstance(document.get("version"), str)
        or not document["version"]
    ):
        raise CatalogueError("catalogue: needs a version string")
    version = document["version"]
    kinds = document.get("kinds")
    if not isinstance(kinds, dict):
        raise CatalogueError("catalogue: needs kinds")
    known = {k.value for k in EventKind}
    if unknown := sorted(set(kinds) - known):
        raise CatalogueError(f"catalogue: unknown kinds {', '.join(unknown)}")
    if missing := sorted(known - set(kinds)):
        raise CatalogueError(f"catalogue: no entry for {', '.join(missing)}")
    entries = {EventKind(k): _entry(f"kinds.{k}", v, version) for k, v in kinds.items()}
    raw_occupants = kinds[EventKind.OCCUPATION.value].get("by_occupant", {})
    if not isinstance(raw_occupants, dict):
        raise CatalogueError("kinds.occupation.by_occupant: needs an object")
    occupants = {
        name: _entry(f"kinds.occupation.by_occupant.{name}", v, version) for name, v in raw_occupants.items()
    }
    return Catalogue(
        version, MappingProxyType(entries), MappingProxyType(occupants), _occupant_labels(raw_occupants)
    )


def _occupant_labels(raw_occupants: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for name, raw in raw_occupants.items():
        labels = raw.get("labels", [])
        where = f"kinds.occupation.by_occupant.{name}.labels"
        if not isinstance(labels, list) or not all(isinstance(label, str) and label for label in labels):
            raise CatalogueError(f"{where}: needs a list of detection labels")
        if taken := sorted({label for label, _ in pairs} & set(labels)):
            raise CatalogueError(f"{where}: {', '.join(taken)} already names another occupant")
        pairs += [(label, name) for label in labels]
    return tuple(pairs)


def load(path: Path = CATALOGUE_FILE) -> Catalogue:
    try:
        return parse(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as exc:
        raise CatalogueError(f"{path}: {exc}") from None


#: Loaded and checked once: a broken catalogue stops the import, not a request.
CATALOGUE = load()
