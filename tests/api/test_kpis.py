"""KPIs (综合评价) on 32 cases with known timings (tests/kpi_fixture.py): the API's figures equal the ones
worked out by hand below, per grid, community, township, worker and department; they follow the
caller's scope; the CSV and the XLSX hold the same numbers; lateness is recorded per step."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from models.store import Store
from router.kpis import COLUMNS
from tests.kpi_fixture import CASES, G1, G2, G3, G4, build
from tests.rig import Rig, demo_rig

DAY = {"from": "2026-11-23", "to": "2026-11-23"}

# Worked out by hand from the scripts of tests/kpi_fixture.py (times in seconds):
#   type  accept arrive resolve  late steps       other
#   A      300    720    3600    -                verified by the leader, closed
#   A2     120   1500    7200    -
#   B      900    540    6000    accept
#   C      300     -    18000    resolve          (no depart: no arrival time)
#   D      300     -       -     arrive, resolve  open, overdue at AS_OF; due, not on time
#   F      300     -     1800    -                reopened from resolved: rework
#   G      300     -     1800    -                verified by the camera
#   H     1500     -     4800    -                returned, dispatched again (accept from 1st dispatch)
#   J     1200     -     3600    accept           escalated by the escalator, now w002's
#   I = A with 2 repeat reports; E reported, unfiled; R rejected; DUP rejected as a duplicate (1)
# G1: J A A A B C D F G H I   G2: A A B C C D F E R   G3: A A2 B D G DUP   G4: A C D F H E
GRID_ROWS: dict[str, dict[str, Any]] = {
    G1: {
        "key": G1, "name": "东关一网格", "cases": 11, "filed": 11,
        "closed": 10, "closure_rate": 0.9091, "on_time": 9, "due": 11, "on_time_rate": 0.8182,
        "reworked": 1, "resolved": 10, "rework_rate": 0.1,
        "camera_verified": 1, "verified": 10, "camera_share": 0.1,
        # accept: 300×8, 900, 1200, 1500 (n 11: ranks 6 and 10); arrive: 540, 720×4 (ranks 3, 5)
        "accept_p50_s": 300, "accept_p90_s": 1200, "arrive_p50_s": 720, "arrive_p90_s": 720,
        # resolve: 1800×2, 3600×5, 4800, 6000, 18000 (n 10: ranks 5 and 9)
        "resolve_p50_s": 3600, "resolve_p90_s": 6000,
        "late_accept": 2, "late_arrive": 1, "late_resolve": 2, "duplicates_merged": 2,
    },
    G2: {
        "key": G2, "name": "东关二网格", "cases": 9, "filed": 7,
        "closed": 6, "closure_rate": 0.8571, "on_time": 4, "due": 7, "on_time_rate": 0.5714,
        "reworked": 1, "resolved": 6, "rework_rate": 0.1667,
        "camera_verified": 0, "verified": 6, "camera_share": 0.0,
        # accept: 300×6, 900 (ranks 4, 7); arrive: 540, 720, 720 (ranks 2, 3)
        "accept_p50_s": 300, "accept_p90_s": 900, "arrive_p50_s": 720, "arrive_p90_s": 720,
        # resolve: 1800, 3600, 3600, 6000, 18000, 18000 (ranks 3, 6)
        "resolve_p50_s": 3600, "resolve_p90_s": 18000,
        "late_accept": 1, "late_arrive": 1, "late_resolve": 3, "duplicates_merged": 0,
    },
    G3: {
        "key": G3, "name": "西关农贸市场专属网格", "cases": 6, "filed": 5,
        "closed": 4, "closure_rate": 0.8, "on_time": 4, "due": 5, "on_time_rate": 0.8,
        "reworked": 0, "resolved": 4, "rework_rate": 0.0,
        "camera_verified": 1, "verified": 4, "camera_share": 0.25,
        # accept: 120, 300, 300, 300, 900 (ranks 3, 5); arrive: 540, 720, 1500 (ranks 2, 3)
        "accept_p50_s": 300, "accept_p90_s": 900, "arrive_p50_s": 720, "arrive_p90_s": 1500,
        # resolve: 1800, 3600, 6000, 7200 (ranks 2, 4)
        "resolve_p50_s": 3600, "resolve_p90_s": 7200,
        "late_accept": 1, "late_arrive": 1, "late_resolve": 1, "duplicates_merged": 1,
    },
    G4: {
        "key": G4, "name": "河湾村一组", "cases": 6, "filed": 5,
        "closed": 4, "closure_rate": 0.8, "on_time": 3, "due": 5, "on_time_rate": 0.6,
        "reworked": 1, "resolved": 4, "rework_rate": 0.25,
        "camera_verified": 0, "verified": 4, "camera_share": 0.0,
        # accept: 300×4, 1500 (ranks 3, 5); arrive: 720 alone
        "accept_p50_s": 300, "accept_p90_s": 1500, "arrive_p50_s": 720, "arrive_p90_s": 720,
        # resolve: 1800, 3600, 4800, 18000 (ranks 2, 4)
        "resolve_p50_s": 3600, "resolve_p90_s": 18000,
        "late_accept": 0, "late_arrive": 1, "late_resolve": 2, "duplicates_merged": 0,
    },
}  # fmt: skip
TOTAL: dict[str, Any] = {
    "key": "", "name": "合计 total", "cases": 32, "filed": 28,
    "closed": 24, "closure_rate": 0.8571, "on_time": 20, "due": 28, "on_time_rate": 0.7143,
    "reworked": 3, "resolved": 24, "rework_rate": 0.125,
    "camera_verified": 2, "verified": 24, "camera_share": 0.0833,
    # accept: 120, 300×21, 900×3, 1200, 1500×2 (n 28: ranks 14 and 26)
    # arrive: 540×3, 720×8, 1500 (n 12: ranks 6 and 11)
    "accept_p50_s": 300, "accept_p90_s": 1200, "arrive_p50_s": 720, "arrive_p90_s": 720,
    # resolve: 1800×5, 3600×9, 4800×2, 6000×3, 7200, 18000×4 (n 24: ranks 12 and 22)
    "resolve_p50_s": 3600, "resolve_p90_s": 18000,
    "late_accept": 4, "late_arrive": 4, "late_resolve": 8, "duplicates_merged": 3,
}  # fmt: skip
#: (key, cases, filed, closed, on time, due, late accept, late arrive, late resolve) per other grouping.
OTHER_GROUPINGS = {
    "community": [
        ("379901001001", 20, 18, 16, 13, 18, 3, 2, 5),  # G1 + G2
        ("379901001002", 6, 5, 4, 4, 5, 1, 1, 1),  # G3
        ("379901002001", 6, 5, 4, 3, 5, 0, 1, 2),  # G4
    ],
    "township": [
        ("379901001", 26, 23, 20, 17, 23, 4, 3, 6),  # G1 + G2 + G3
        ("379901002", 6, 5, 4, 3, 5, 0, 1, 2),
    ],
    "worker": [
        ("w001", 10, 10, 9, 8, 10, 1, 1, 2),  # G1 but J
        ("w002", 1, 1, 1, 1, 1, 1, 0, 0),  # J
        ("w003", 9, 7, 6, 4, 7, 1, 1, 3),
        ("w007", 6, 5, 4, 4, 5, 1, 1, 1),
        ("w015", 6, 5, 4, 3, 5, 0, 1, 2),
    ],
    "department": [
        ("市场监管", 6, 5, 4, 4, 5, 1, 1, 1),  # G3
        ("综治/公安", 26, 23, 20, 16, 23, 3, 3, 7),  # G1 + G2 + G4
    ],
}
SUMMARY = ("key", "cases", "filed", "closed", "on_time", "due", "late_accept", "late_arrive", "late_resolve")


@pytest.fixture
async def fixture(store: Store) -> AsyncIterator[tuple[Rig, list[uuid.UUID]]]:
    rig = await demo_rig(store)
    ids = await build(rig)
    yield rig, ids
    await rig.stop()


async def _get(rig: Rig, user: str, **params: str) -> httpx.Response:
    client = await rig.client(user)
    try:
        return await client.get("/api/kpis", params=params)
    finally:
        await client.aclose()


async def test_kpis_per_grid_equal_the_hand_computed_ones(fixture: tuple[Rig, list[uuid.UUID]]) -> None:
    rig, _ = fixture
    assert len(CASES) >= 30
    response = await _get(rig, "command", by="grid", **DAY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["columns"] == list(COLUMNS)
    assert body["rows"] == [GRID_ROWS[g] for g in (G1, G2, G3, G4)]
    assert body["total"] == TOTAL
    assert (body["from"], body["to"]) == ("2026-11-23T00:00:00+08:00", "2026-11-24T00:00:00+08:00")


@pytest.mark.parametrize("by", sorted(OTHER_GROUPINGS))
async def test_kpis_per_community_township_worker_department(
    fixture: tuple[Rig, list[uuid.UUID]], by: str
) -> None:
    rig, _ = fixture
    body = (await _get(rig, "command", by=by, **DAY)).json()
    assert [tuple(row[c] for c in SUMMARY) for row in body["rows"]] == OTHER_GROUPINGS[by]
    assert body["total"] == TOTAL
    if by == "worker":
        assert [row["name"] for row in body["rows"]] == ["王芳", "李强", "张伟", "赵敏", "胡斌"]


async def test_kpis_follow_the_callers_scope(fixture: tuple[Rig, list[uuid.UUID]]) -> None:
    rig, _ = fixture
    grid_worker = (await _get(rig, "w003", by="grid", **DAY)).json()
    assert grid_worker["rows"] == [GRID_ROWS[G2]]
    assert grid_worker["total"] == {**GRID_ROWS[G2], "key": "", "name": "合计 total"}
    township = (await _get(rig, "chengguan", by="township", **DAY)).json()
    assert [(r["key"], r["cases"]) for r in township["rows"]] == [("379901001", 26)]
    assert G4 not in (await _get(rig, "chengguan", by="grid", format="csv", **DAY)).text


async def test_the_range_selects_cases_by_their_opening(fixture: tuple[Rig, list[uuid.UUID]]) -> None:
    rig, _ = fixture
    later = (await _get(rig, "command", **{"from": "2026-11-24", "to": "2026-11-30"})).json()
    assert (later["rows"], later["total"]["cases"]) == ([], 0)
    # The first hour: J, then A A A B C (10:00 to 10:50 local).
    hour = await _get(rig, "command", **{"from": "2026-11-23T10:00+08:00", "to": "2026-11-23T11:00+08:00"})
    assert (hour.json()["total"]["cases"], hour.json()["total"]["late_accept"]) == (6, 2)


async def test_the_csv_holds_the_same_numbers(fixture: tuple[Rig, list[uuid.UUID]]) -> None:
    rig, _ = fixture
    response = await _get(rig, "command", by="grid", format="csv", **DAY)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="kpis-grid-2026-11-23-2026-11-24.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    expected = [*(GRID_ROWS[g] for g in (G1, G2, G3, G4)), TOTAL]
    assert [list(r) for r in rows] == [list(COLUMNS)] * 5
    assert rows == [{c: "" if row[c] is None else str(row[c]) for c in COLUMNS} for row in expected]


async def test_the_xlsx_opens_with_openpyxl_and_holds_the_same_numbers(
    fixture: tuple[Rig, list[uuid.UUID]],
) -> None:
    rig, _ = fixture
    response = await _get(rig, "command", by="grid", format="xlsx", **DAY)
    assert response.status_code == 200, response.text
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    sheet = book["by grid"]
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert header == list(COLUMNS)
    expected = [*(GRID_ROWS[g] for g in (G1, G2, G3, G4)), TOTAL]
    # openpyxl reads an empty string cell back as None.
    assert rows == [[row[c] if row[c] != "" else None for c in COLUMNS] for row in expected]
    formats = load_workbook(io.BytesIO(response.content))["by grid"]
    closure = formats.cell(row=2, column=COLUMNS.index("closure_rate") + 1)
    assert (closure.value, closure.number_format) == (0.9091, "0.00%")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "2026-11-24", "to": "2026-11-23"}, "the range is empty"),
        ({"from": "23/11/2026"}, "'from' must be a date"),
        ({"to": "2026-11-23T10:00"}, "'to' needs a UTC offset"),
        ({"from": "2024-01-01", "to": "2026-11-23"}, "more than 366 days"),
    ],
)
async def test_bad_ranges_are_422_with_the_reason(
    fixture: tuple[Rig, list[uuid.UUID]], params: dict[str, str], message: str
) -> None:
    rig, _ = fixture
    response = await _get(rig, "command", **params)
    assert response.status_code == 422 and message in response.json()["detail"]


async def test_an_unknown_grouping_or_format_is_422(fixture: tuple[Rig, list[uuid.UUID]]) -> None:
    rig, _ = fixture
    assert (await _get(rig, "command", by="village")).status_code == 422
    assert (await _get(rig, "command", format="pdf")).status_code == 422
    client = await rig.client()
    try:
        assert (await client.get("/api/kpis")).status_code == 401
    finally:
        await client.aclose()


async def test_lateness_is_recorded_per_step_as_the_step_is_taken(
    fixture: tuple[Rig, list[uuid.UUID]],
) -> None:
    rig, ids = fixture
    late_accept, late_resolve, on_time = ids[4], ids[5], ids[1]  # B, C and an A of grid G1
    steps = {
        incident_id: [
            (r["action"], list(r["late_steps"]))
            for r in await rig.store.pool.fetch(
                "SELECT action, late_steps FROM incident_log WHERE incident_id = $1 ORDER BY id", incident_id
            )
        ]
        for incident_id in (late_accept, late_resolve, on_time)
    }
    assert [s for s in steps[late_accept] if s[1]] == [("accept", ["accept"])]
    assert [s for s in steps[late_resolve] if s[1]] == [("resolve", ["resolve"])]
    assert all(not late for _, late in steps[on_time])
    timers = await rig.store.pool.fetch(
        "SELECT kind, met_at, late FROM timers WHERE incident_id = $1 ORDER BY kind", late_accept
    )
    opened = (await rig.store.incidents.get(late_accept)).opened_at
    assert [(t["kind"], (t["met_at"] - opened).total_seconds() / 60, t["late"]) for t in timers] == [
        ("accept", 15, True),
        ("arrive", 25, False),
        ("resolve", 100, False),
    ]
    # J: the escalator found it unaccepted; the missed deadline stays on record as the fired timer.
    fired = await rig.store.pool.fetch(
        "SELECT kind, outcome FROM timers WHERE incident_id = $1 AND fired_at IS NOT NULL", ids[0]
    )
    assert [(t["kind"], t["outcome"]) for t in fired] == [("accept", "escalated")]
