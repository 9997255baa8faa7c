"""The import and config commands, run as a user runs them: a subprocess, its exit status and its lines.

Broken inputs are made from the demo county's own files, so each case differs from a good file by one
defect; after a rejection the database must hold exactly what it held before.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from models.db import migrate
from tests.conftest import DEMO_DIR, REPO
from tests.servers import run_cli

DEMO = DEMO_DIR
GRID_A = "379901001001001"


def gridwatch(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        *args, env={**os.environ, "GRIDWATCH_DATABASE_URL": db_url, "NO_COLOR": "1", "COLUMNS": "200"}
    )


async def table_counts(db_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(db_url)
    try:
        await migrate(conn)  # a rejected import never opens the database, so the schema may not exist yet
        return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in ("grids", "shifts", "cameras")}
    finally:
        await conn.close()


def _geojson() -> dict:  # type: ignore[type-arg]
    return json.loads((DEMO / "grids.geojson").read_text(encoding="utf-8"))


def _write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def grid_bad_code(doc: dict) -> None:  # type: ignore[type-arg]
    doc["features"][2]["properties"]["code"] = "37990100100100"


def grid_three_points(doc: dict) -> None:  # type: ignore[type-arg]
    ring = doc["features"][1]["geometry"]["coordinates"][0]
    doc["features"][1]["geometry"]["coordinates"][0] = [ring[0], ring[1], ring[0]]


def grid_bow_tie(doc: dict) -> None:  # type: ignore[type-arg]
    ring = doc["features"][1]["geometry"]["coordinates"][0]
    doc["features"][1]["geometry"]["coordinates"][0] = [ring[0], ring[2], ring[1], ring[3], ring[0]]


def grid_overlap(doc: dict) -> None:  # type: ignore[type-arg]
    doc["features"][1]["geometry"] = doc["features"][0]["geometry"]


GRID_CASES: list[tuple[str, Callable[[dict], None], str]] = [  # type: ignore[type-arg]
    ("14-digit code", grid_bad_code, "features[2].properties.code"),
    ("ring of 3 positions", grid_three_points, "features[1].geometry"),
    ("self-intersecting", grid_bow_tie, "features[1].geometry"),
    ("overlapping grids", grid_overlap, "overlap"),
]


async def test_demo_files_import_cleanly(db_url: str) -> None:
    for command, name in [
        ("import-grids", "grids.geojson"),
        ("import-roster", "roster.csv"),
        ("import-cameras", "cameras.json"),
    ]:
        result = gridwatch(db_url, command, str(DEMO / name))
        assert result.returncode == 0, result.stderr
    assert await table_counts(db_url) == {"grids": 11, "shifts": 15, "cameras": 1}


@pytest.mark.parametrize(("case", "mutate", "where"), GRID_CASES, ids=[c[0] for c in GRID_CASES])
async def test_broken_grids_are_rejected_whole(
    db_url: str,
    tmp_path: Path,
    case: str,
    mutate: Callable[[dict], None],
    where: str,  # type: ignore[type-arg]
) -> None:
    doc = _geojson()
    mutate(doc)
    path = _write(tmp_path, "grids.geojson", json.dumps(doc, ensure_ascii=False))
    result = gridwatch(db_url, "import-grids", str(path))
    assert result.returncode == 2, (case, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("error: ") for line in lines), result.stderr
    assert any(where in line for line in lines), result.stderr
    assert "Traceback" not in result.stderr
    assert (await table_counts(db_url))["grids"] == 0


async def test_rejected_grid_file_keeps_the_previous_layer(db_url: str, tmp_path: Path) -> None:
    assert gridwatch(db_url, "import-grids", str(DEMO / "grids.geojson")).returncode == 0
    doc = _geojson()
    grid_overlap(doc)
    result = gridwatch(db_url, "import-grids", str(_write(tmp_path, "g.geojson", json.dumps(doc))))
    assert result.returncode == 2
    assert (await table_counts(db_url))["grids"] == 11


ROSTER_CASES = [
    ("unknown grid", "w001,王芳,13800000001,grid_worker,379901009009009,*,08:00,20:00", "379901009009009"),
    ("25:00", "w001,王芳,13800000001,grid_worker,379901001001001,*,08:00,25:00", "25:00"),
]


@pytest.mark.parametrize(("case", "row", "fragment"), ROSTER_CASES, ids=[c[0] for c in ROSTER_CASES])
async def test_broken_roster_rows_are_rejected_whole(
    db_url: str, tmp_path: Path, case: str, row: str, fragment: str
) -> None:
    assert gridwatch(db_url, "import-grids", str(DEMO / "grids.geojson")).returncode == 0
    lines = (DEMO / "roster.csv").read_text(encoding="utf-8").splitlines()
    lines[5] = row
    result = gridwatch(db_url, "import-roster", str(_write(tmp_path, "roster.csv", "\n".join(lines) + "\n")))
    assert result.returncode == 2, (case, result.stderr)
    problems = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(problems) == 1, result.stderr
    assert "line 6" in problems[0] and fragment in problems[0], problems[0]
    assert (await table_counts(db_url))["shifts"] == 0


def _cameras_with(calibration: list[dict]) -> str:  # type: ignore[type-arg]
    doc = json.loads((DEMO / "cameras.json").read_text(encoding="utf-8"))
    doc["cameras"][0]["calibration"] = calibration
    return json.dumps(doc, ensure_ascii=False)


CALIBRATION_CASES = [
    (
        "3 points",
        [
            {"px": [0, 130], "lonlat": [118.6296678, 35.7912661]},
            {"px": [768, 100], "lonlat": [118.6303322, 35.7912661]},
            {"px": [768, 576], "lonlat": [118.6301107, 35.7909225]},
        ],
    ),
    (
        "4 collinear points",
        [{"px": [100 * i, 100 * i], "lonlat": [118.6296 + 1e-4 * i, 35.79 + 1e-4 * i]} for i in range(1, 5)],
    ),
]


@pytest.mark.parametrize(("case", "calibration"), CALIBRATION_CASES, ids=[c[0] for c in CALIBRATION_CASES])
async def test_degenerate_calibrations_are_rejected(
    db_url: str,
    tmp_path: Path,
    case: str,
    calibration: list[dict],  # type: ignore[type-arg]
) -> None:
    result = gridwatch(
        db_url, "import-cameras", str(_write(tmp_path, "cameras.json", _cameras_with(calibration)))
    )
    assert result.returncode == 2, (case, result.stderr)
    problems = [line for line in result.stderr.splitlines() if line.strip()]
    assert problems and all("calibration" in p for p in problems), result.stderr
    assert (await table_counts(db_url))["cameras"] == 0


SITE_YAML = REPO / "docs" / "site.example.yaml"


@pytest.mark.parametrize(
    ("case", "edit", "fragment"),
    [
        ("malformed YAML", lambda text: text + "\ncameras: [unclosed\n", "line"),
        ("unknown key", lambda text: text.replace("analysis_fps:", "analysis_fsp:", 1), "analysis_fsp"),
    ],
)
def test_check_config_reports_each_problem_with_its_place(
    tmp_path: Path, case: str, edit: Callable[[str], str], fragment: str
) -> None:
    good = SITE_YAML.read_text(encoding="utf-8")
    assert gridwatch("postgresql://unused", "check-config", str(SITE_YAML)).returncode == 0
    path = _write(tmp_path, "site.yaml", edit(good))
    result = gridwatch("postgresql://unused", "check-config", str(path))
    assert result.returncode == 2, (case, result.stdout, result.stderr)
    assert fragment in result.stderr and "Traceback" not in result.stderr


def test_missing_file_is_one_line_exit_2(tmp_path: Path) -> None:
    result = gridwatch("postgresql://unused", "import-grids", str(tmp_path / "nope.geojson"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: {tmp_path / 'nope.geojson'}: no such file"]
