"""Errors raised by detect/ that callers are expected to catch and show to an operator.

Every model problem is a ``ModelError`` whose message names the file, so the one ``except ModelError`` at
start-up turns any of them into one clear line instead of a torch or OpenVINO traceback.
"""

from __future__ import annotations

from pathlib import Path


class ModelError(Exception):
    """A detector's weights cannot be used; ``path`` is the file or export folder at fault, if known."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class ModelNotFound(ModelError, LookupError):
    """No usable detector weights: says what was tried and how to fix it."""

    def __init__(
        self, what: str, tried: tuple[str, ...] = (), fix: str = "", path: Path | None = None
    ) -> None:
        self.what = what
        self.tried = tried
        self.fix = fix
        lines = [what]
        lines += [f"  tried: {item}" for item in tried]
        if fix:
            lines.append(f"  fix: {fix}")
        super().__init__("\n".join(lines), path)


class ModelUnreadable(ModelError):
    """The file exists but the back-end cannot load it: truncated, corrupt, or not a model at all."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"detector weights {path} cannot be loaded ({reason}): replace the file", path)
        self.reason = reason


class UnexpectedClasses(ModelError, ValueError):
    """The model loads but reports none of the classes gridwatch needs from it (wrong weights for the job)."""

    def __init__(self, path: Path, wanted: list[str], found: dict[int, str]) -> None:
        super().__init__(
            f"detector weights {path} have no class meaning any of {wanted}; its classes: {found}", path
        )
        self.wanted = wanted
        self.found = found


def backend_gist(exc: BaseException) -> str:
    """The back-end's own words, shortened: OpenVINO ends its page of C++ context with the actual problem."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[-1][:200] if lines else 'no message'}"
