"""`gridwatch locate` and `gridwatch duty` on the imported demo county, run as a user runs them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from models.db import Database
from tests.api.test_cli_imports import DEMO, gridwatch
from tests.conftest import fresh_database

MON = "2026-11-23T{}+08:00"


@pytest.fixture(scope="module")
async def demo_db(postgres: Database) -> AsyncIterator[str]:
    """The demo county imported once, as a user imports it; these commands only read it."""
    async with fresh_database(postgres) as db_url:
        for command, name in (("import-grids", "grids.geojson"), ("import-roster", "roster.csv"),
                              ("import-cameras", "cameras.json")):  # fmt: skip
            assert gridwatch(db_url, command, str(DEMO / name)).returncode == 0
        yield db_url


def locate(db_url: str, *args: str) -> dict:  # type: ignore[type-arg]
    result = gridwatch(db_url, "locate", "cam-dongguan-road", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("x", "y", "hour", "absent", "grid", "worker"),
    [
        ("235", "262", "10:00", [], "379901001001001", "w001"),
        ("630", "365", "10:00", [], "379901001001002", "w003"),
        ("235", "262", "23:00", [], "379901001001001", "w002"),
        ("630", "365", "23:00", [], "379901001001002", "w004"),
        ("235", "262", "10:00", ["--absent", "w001"], "379901001001001", "w008"),
    ],
)
def test_locate_demo_points(
    demo_db: str, x: str, y: str, hour: str, absent: list[str], grid: str, worker: str
) -> None:
    report = locate(demo_db, x, y, "--at", MON.format(hour), *absent)
    assert report["grid_code"] == grid and report["duty"]["assignee"]["worker_id"] == worker
    assert report["departments"]["occupation"]["department"] == "城管"
    assert [step["role"] for step in report["duty"]["chain"]][-1] == "county_command"


def test_text_output_and_duty(demo_db: str) -> None:
    text = gridwatch(demo_db, "locate", "cam-dongguan-road", "235", "262", "--at", MON.format("10:00"))
    assert text.returncode == 0 and "379901001001001" in text.stdout and "w001 王芳" in text.stdout
    duty = gridwatch(demo_db, "duty", "379901001001002", "--at", MON.format("23:00"), "--json")
    assert json.loads(duty.stdout)["assignee"]["worker_id"] == "w004"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["locate", "cam-nope", "1", "1"], "unknown camera 'cam-nope'"),
        (["locate", "cam-dongguan-road", "800", "10"], "outside the 768×576 frame"),
        (["locate", "cam-dongguan-road", "1", "1", "--at", "23 Nov"], "not an ISO time"),
        (["duty", "3799"], "must be 6, 9, 12 or 15 digits"),
        (["duty", "379901009"], "unknown unit"),
    ],
)
def test_bad_input_exits_2_with_one_line(demo_db: str, args: list[str], message: str) -> None:
    result = gridwatch(demo_db, *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ") and message in result.stderr
