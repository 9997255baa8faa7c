"""The example site file, copied and edited line by line: what the config tests start from."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REPO

EXAMPLE = REPO / "docs" / "site.example.yaml"


def edit(path: Path, old: str, new: str) -> int:
    """Replace the first `old` in the file; returns the 1-based line it was on."""
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


def line_with(path: Path, text: str) -> int:
    """The 1-based line where text first appears in the file."""
    content = path.read_text(encoding="utf-8")
    assert text in content, text
    return content[: content.index(text)].count("\n") + 1


def uncomment_line_zone(path: Path) -> None:
    """Turn the example's commented line zone into a real one (the fourth zone of the camera)."""
    text = path.read_text(encoding="utf-8")
    start = text.index("      # - name: fire-lane-entrance")
    end = text.index("\n", text.index("#   cooldown_seconds:", start))
    block = text[start:end].replace("      # - ", "      - ").replace("      #   ", "        ")
    path.write_text(text[:start] + block + text[end:], encoding="utf-8")
