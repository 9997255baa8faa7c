"""What the user gave us is wrong: the CLI prints each problem as one line and exits 2."""

from __future__ import annotations


class UsageProblem(Exception):
    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)
