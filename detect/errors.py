"""Errors raised by detect/ that callers are expected to catch and show to an operator."""

from __future__ import annotations


class ModelNotFound(LookupError):
    """No usable detector weights: says what was tried and how to fix it."""

    def __init__(self, what: str, tried: tuple[str, ...] = (), fix: str = "") -> None:
        self.what = what
        self.tried = tried
        self.fix = fix
        lines = [what]
        lines += [f"  tried: {item}" for item in tried]
        if fix:
            lines.append(f"  fix: {fix}")
        super().__init__("\n".join(lines))
