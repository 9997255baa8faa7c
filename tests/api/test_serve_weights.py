"""``gridwatch serve`` refuses corrupt person-model weights with one line naming the file, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers import run_cli


@pytest.mark.parametrize("content", [b"", b"not a torch pickle at all"])
def test_corrupt_weights_stop_start_up_with_one_line_naming_the_file(tmp_path: Path, content: bytes) -> None:
    weights = tmp_path / "broken.pt"
    weights.write_bytes(content)
    config = tmp_path / "site.yaml"
    config.write_text(
        f"site: {{name: t}}\ncameras: []\ndetectors: {{person: {{weights: '{weights}'}}}}\n", encoding="utf-8"
    )
    result = run_cli(
        "serve", "--config", str(config), env={"GRIDWATCH_SECRET_KEY": "k" * 40, "PATH": "/usr/bin"}
    )
    assert result.returncode == 2, result.stderr
    # serve narrates at INFO before it fails; the failure itself is one line.
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert str(weights) in line and "Traceback" not in result.stderr
