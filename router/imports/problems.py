"""What an importer says about a file it refuses: every problem, each naming its place and its reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One defect of an input file.

    ``where`` is a path a person can follow in their editor: ``features[3].properties.code`` for JSON,
    ``line 7, start`` for CSV (line 1 is the header).
    """

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ImportRejected(Exception):
    """The file was refused as a whole; nothing of it may be imported."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("ImportRejected needs at least one problem")
        self.problems: list[Problem] = list(problems)
        super().__init__(f"{len(self.problems)} problem(s):\n" + "\n".join(map(str, self.problems)))
