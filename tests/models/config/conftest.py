from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.models.config.site_file import EXAMPLE


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A copy of docs/site.example.yaml named site.yaml, free to edit."""
    path = tmp_path / "site.yaml"
    shutil.copy(EXAMPLE, path)
    return path
