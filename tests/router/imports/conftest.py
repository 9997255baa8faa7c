"""The demo county (api/demo), copied per test so that each test can break its own copy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from models.records import Grid
from router.imports import parse_grids, unit_codes


@pytest.fixture
def demo(tmp_path: Path, demo_dir: Path) -> Path:
    for name in ("grids.geojson", "roster.csv", "cameras.json"):
        shutil.copy(demo_dir / name, tmp_path / name)
        (tmp_path / name).chmod(0o644)
    return tmp_path


@pytest.fixture
def grids_doc(demo: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((demo / "grids.geojson").read_text(encoding="utf-8"))
    return doc


@pytest.fixture
def demo_grids(grids_doc: dict[str, Any]) -> list[Grid]:
    return parse_grids(json.dumps(grids_doc))


@pytest.fixture
def known_units(demo_grids: list[Grid]) -> frozenset[str]:
    return unit_codes(demo_grids)
