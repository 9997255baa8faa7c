"""An evaluation folder laid out like ``../shared/data/eval``: ``items.json`` plus the files it lists.

The split into a tuning half and a held-out half is by *scene*, not by file: the fire set holds several
frames of the same CCTV clip, and tuning on one frame of a clip then "holding out" its neighbour would
measure memory, not generalisation. Within each category the scenes are ordered by the sha256 of their
name and dealt alternately, so both halves get fire, smoke, negative and crowd scenes whatever the names.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".mov"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"})


class EvalDataError(ValueError):
    """The folder is not an evaluation set: one message per problem, each naming the file at fault."""

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


class Split(enum.StrEnum):
    TUNE = "tune"
    HOLDOUT = "holdout"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class EvalItem:
    #: Path relative to the dataset folder, with forward slashes (as in items.json and the JSON records).
    file: str
    category: str
    #: {fire, smoke} present; None where the item is not labelled for fire at all.
    expect_kinds: frozenset[str] | None
    rough_persons: int | None
    scene: str

    @property
    def is_video(self) -> bool:
        return Path(self.file).suffix.lower() in VIDEO_SUFFIXES


def scene_of(file: str) -> str:
    """Files share a scene when their names share the first two ``__`` parts (source and clip).

    ``crowd/atharva__plaza_topdown_cctv__frame00170.jpg`` and ``crowd/atharva__plaza_topdown_cctv.mp4`` are
    one scene; each COCO image is its own.
    """
    stem = Path(file).stem
    return "__".join(stem.split("__")[:2])


def load_items(root: Path) -> list[EvalItem]:
    index = root / "items.json"
    try:
        raw = json.loads(index.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvalDataError(f"{index}: no such file (is {root} an evaluation folder?)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvalDataError(f"{index}: not JSON ({exc})") from None
    if not isinstance(raw, list):
        raise EvalDataError(f"{index}: expected a JSON list of items")
    items: list[EvalItem] = []
    problems: list[str] = []
    for number, entry in enumerate(raw):
        where = f"{index} item {number}"
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
            problems.append(f'{where}: needs a "file" string')
            continue
        file = entry["file"]
        suffix = Path(file).suffix.lower()
        if suffix not in VIDEO_SUFFIXES | IMAGE_SUFFIXES:
            problems.append(f"{where}: {file}: not an image or video ({suffix or 'no suffix'})")
        elif not (root / file).is_file():
            problems.append(f"{where}: {root / file}: no such file")
        kinds = entry.get("expect_kinds")
        if kinds is not None and not (isinstance(kinds, list) and set(kinds) <= {"fire", "smoke"}):
            problems.append(f"{where}: expect_kinds must be a list of fire/smoke, got {kinds!r}")
            continue
        rough = entry.get("rough_persons")
        if rough is not None and (not isinstance(rough, int) or rough < 0):
            problems.append(f"{where}: rough_persons must be a count, got {rough!r}")
            continue
        items.append(
            EvalItem(
                file=file,
                category=str(entry.get("category") or Path(file).parts[0]),
                expect_kinds=None if kinds is None else frozenset(kinds),
                rough_persons=rough,
                scene=scene_of(file),
            )
        )
    if problems:
        raise EvalDataError(*problems)
    return items


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def split_of(items: Sequence[EvalItem]) -> dict[str, Split]:
    """Scene → TUNE or HOLDOUT, deterministic and independent of file order."""
    scenes_by_category: dict[str, set[str]] = defaultdict(set)
    category_of_scene: dict[str, str] = {}
    for item in items:
        # A scene whose files sit in several categories is dealt once, with its first category.
        category = category_of_scene.setdefault(item.scene, item.category)
        scenes_by_category[category].add(item.scene)
    halves: dict[str, Split] = {}
    for category in sorted(scenes_by_category):
        for position, scene in enumerate(sorted(scenes_by_category[category], key=_digest)):
            halves[scene] = Split.TUNE if position % 2 == 0 else Split.HOLDOUT
    return halves


def select(items: Sequence[EvalItem], split: Split) -> list[EvalItem]:
    if split is Split.ALL:
        return list(items)
    halves = split_of(items)
    return [item for item in items if halves[item.scene] is split]
