"""The wall as a command centre uses it, in Chromium at 1600×900 against the served system (issue 12):
tiles fill the screen in the N×N layout the operator picks, following open incidents by severity then age
with pinned tiles kept; the map is large, labelled without overlaps, zooms and pans and shows cameras and
incidents; an incident's tile shows its zone and snapshot; and the worker page and the wall offer exactly
the steps the API lists for each incident, which are router/permissions.py's (acceptance item 1).

The service runs in-process with the real camera loop over vtest.avi and an empty scripted detector; the
incidents are recorded by the test, each with a real JPEG snapshot, and put in the states the checks need.
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import cv2
import httpx
import pytest

from api.site import DEMO_PASSWORD
from api.wiring import System
from detect.analysis.analyzer import evidence_of, jpeg_blob
from detect.backends.scripted import ScriptedDetector
from models.clock import SystemClock
from models.db import Database
from models.records import IncidentState, Post
from router.lifecycle import REASONS, Action
from router.permissions import allowed_actions
from tests.conftest import REPO
from tests.rig import T0, crowd_output
from tests.servers import InProcessApi, in_process_api

pytestmark = pytest.mark.slow

CHECK = Path(__file__).with_name("wall_layout.mjs")
COMMANDER, WORKER = "chengguan", "w001"  # township command; the day-shift worker of grid …001
GRID_1, GRID_2 = "379901001001001", "379901001001002"
#: name → (image column of the crowd (left half: grid …001), state, severity, minutes after T0 it opened)
CASES = {
    "reported": (100, IncidentState.REPORTED, 4, 4),
    "dispatched": (110, IncidentState.DISPATCHED, 2, 1),
    "accepted": (120, IncidentState.ACCEPTED, 2, 2),
    "resolved": (130, IncidentState.RESOLVED, 2, 0),
    "in_progress": (600, IncidentState.IN_PROGRESS, 2, 3),
}


def _snapshot(vtest: Path) -> bytes:
    capture = cv2.VideoCapture(str(vtest))
    ok, frame = capture.read()
    capture.release()
    assert ok, f"cannot read {vtest}"
    return bytes(cv2.imencode(".jpg", frame)[1])


@pytest.fixture
def service(postgres: Database, vtest: Path) -> Iterator[tuple[InProcessApi, dict[str, str]]]:
    jpeg = _snapshot(vtest)
    ids: dict[str, str] = {}

    async def prepare(system: System) -> None:
        centre = system.centre
        for name, (x, state, severity, minutes) in CASES.items():
            report = crowd_output(x)
            event = replace(report.event, id=uuid.uuid4(), evidence=(evidence_of(jpeg, "snapshot"),))
            draft = centre.routing.route(event, at=T0)
            # No deadlines: the service's escalator runs on the real clock, long after T0, and would hand
            # the cases up the duty chain while the browser looks at them.
            opening = replace(draft.opening(), dedup_key=uuid.uuid4().hex, deadlines={}, accept_by=None)
            incident_id, _ = await centre.store.events.record(event, opening, [jpeg_blob(jpeg, "snapshot")])
            await centre.store.pool.execute(
                "UPDATE incidents SET state = $2, severity = $3, opened_at = $4 WHERE id = $1",
                incident_id,
                state.value,
                severity,
                T0 + timedelta(minutes=minutes),
            )
            ids[name] = str(incident_id)

    with in_process_api(
        postgres.url,
        "gw_wall_layout",
        detector=ScriptedDetector([]),
        clock=SystemClock(),
        camera_source=str(vtest),
        start_cameras=True,
        prepare=prepare,
    ) as api:
        yield api, ids


def _get(base: str, user: str, path: str) -> Any:
    token = httpx.post(
        f"{base}/api/auth/token", json={"username": user, "password": DEMO_PASSWORD}, timeout=10
    ).json()["access_token"]
    return httpx.get(f"{base}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()


def _listed(base: str, user: str) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in _get(base, user, "/api/incidents?limit=100")["items"]}


def _overlapping(boxes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (a["text"], b["text"])
        for a, b in itertools.combinations(boxes, 2)
        if a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    ]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_wall_fills_the_screen_maps_the_county_and_offers_exactly_the_allowed_steps(
    service: tuple[InProcessApi, dict[str, str]], tmp_path: Path
) -> None:
    api, ids = service
    if not (REPO / "node_modules" / "playwright-core").is_dir():
        pytest.fail("playwright-core missing: run ./run setup")
    commander_api, worker_api = _listed(api.base, COMMANDER), _listed(api.base, WORKER)
    shot = tmp_path / "wall.png"
    result = subprocess.run(
        ["node", str(CHECK), api.base + "/", DEMO_PASSWORD, COMMANDER, WORKER, ids["reported"], str(shot)],
        capture_output=True,
        text=True,
        timeout=150,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert "failure" not in seen, seen["failure"]
    assert seen["errors"] == []

    # Acceptance 1: every page offers exactly the API's `actions`, and those are the permission table's.
    assert seen["worker_page"] == {i: worker_api[i]["actions"] for i in seen["worker_page"]}
    assert set(seen["worker_page"]) == {
        i
        for i, inc in worker_api.items()
        if inc["state"] in ("dispatched", "accepted", "in_progress", "reported")
    }
    assert seen["worker_wall"] == {i: inc["actions"] for i, inc in worker_api.items()}
    assert seen["commander_wall"] == {i: inc["actions"] for i, inc in commander_api.items()}
    assert seen["commander_tiles"] == {i: commander_api[i]["actions"] for i in seen["commander_tiles"]}
    table = {
        name: [a.value for a in allowed_actions(post, CASES[name][1])]
        for name, post in (("dispatched", Post.GRID_WORKER), ("accepted", Post.GRID_WORKER))
    }
    assert seen["worker_page"][ids["dispatched"]] == table["dispatched"] == ["accept", "return"]
    assert seen["worker_page"][ids["accepted"]] == table["accepted"] == ["depart", "start", "return"]
    for name in ("reported", "dispatched", "resolved", "in_progress"):
        expected = [a.value for a in allowed_actions(Post.TOWNSHIP, CASES[name][1])]
        assert seen["commander_wall"][ids[name]] == expected, name
    assert seen["commander_wall"][ids["resolved"]] == ["verify", "reopen"]
    assert seen["worker_reason_options"] == list(REASONS[Action.RETURN_])

    # Tiles: most severe first, then oldest; each incident tile shows its zone and its snapshot.
    open_order = sorted(
        (i for i in commander_api.values() if i["state"] != "resolved"),
        key=lambda i: (-i["severity_level"], i["opened_at"]),
    )
    assert [t["key"] for t in seen["default_layout"]["tiles"]] == [f"inc:{i['id']}" for i in open_order]
    # A bigger wall goes on with what the centre acts on next (the resolved case it must verify), then
    # each camera's whole picture; only then are tiles idle.
    assert [t["key"] for t in seen["layouts"]["3"]["tiles"]] == [
        *(f"inc:{i['id']}" for i in open_order),
        f"inc:{ids['resolved']}",
        "cam:cam-dongguan-road",
        "idle:6",
        "idle:7",
        "idle:8",
    ]
    for tile in seen["incident_tiles"]:
        assert tile["media"] == "webrtc", tile
        assert tile["zones"] == ["road"], tile
        assert tile["evidence_width"] == 768 and "reason=wall" in tile["evidence_src"], tile
    assert sum(t["video_width"] == 768 for t in seen["incident_tiles"]) == 4, (
        "one shared stream plays in every tile"
    )

    # Layouts: n×n tiles that cover the wall, and the wall most of the screen; the choice survives a reload.
    for n, layout in seen["layouts"].items():
        wall, tiles = layout["wall"], layout["tiles"]
        assert len(tiles) == int(n) ** 2, n
        assert wall["w"] * wall["h"] > 0.5 * 1600 * 900
        assert sum(t["w"] * t["h"] for t in tiles) > 0.85 * wall["w"] * wall["h"], n
        assert all(t["y"] + t["h"] <= 900 and t["x"] + t["w"] <= 1600 for t in tiles), n
        assert len({(round(t["x"]), round(t["y"])) for t in tiles}) == len(tiles), f"tiles overlap at {n}"
    assert seen["after_reload"] == {"tiles": 9, "pressed": "3"}

    # The map: large, every grid named once by its own or its community's label, none overlapping.
    fit, zoomed, dragged = seen["map_fit"], seen["map_zoomed"], seen["map_dragged"]
    assert fit["rect"]["h"] >= 0.4 * 900 and fit["rect"]["w"] >= 500
    grids = {f["properties"]["code"] for f in _get(api.base, COMMANDER, "/api/grids")["features"]}
    assert len(grids) == 8  # the township's
    assert {c for label in fit["labels"] for c in label["codes"]} == grids
    assert fit["font_px"] >= 11, "labels too small to read"
    # The county's map mixes 200 m town grids with villages: too small to name one by one at this zoom,
    # the town's grids are named by their community.
    county = seen["county_map"]
    all_grids = {f["properties"]["code"] for f in _get(api.base, "command", "/api/grids")["features"]}
    assert len(all_grids) == 11
    assert {c for label in county["labels"] for c in label["codes"]} == all_grids
    assert any(label["kind"] == "community" for label in county["labels"])
    assert county["font_px"] >= 11
    for state in (fit, zoomed, dragged, county):
        assert _overlapping(state["labels"]) == []
    # Zoomed in on the town its grids are named one by one.
    assert zoomed["viewBox"][2] == pytest.approx(fit["viewBox"][2] * 0.8**3, rel=0.01)
    assert {label["text"] for label in zoomed["labels"]} >= {
        "东关一网格",
        "东关二网格",
        "东关三网格",
        "东关四网格",
    }
    scale = zoomed["viewBox"][2] / zoomed["rect"]["w"]
    assert dragged["viewBox"][0] == pytest.approx(zoomed["viewBox"][0] - 60 * scale, rel=0.02, abs=scale * 3)
    assert dragged["viewBox"][2] == pytest.approx(zoomed["viewBox"][2])
    assert seen["map_refit"] == pytest.approx(fit["viewBox"], abs=0.05)  # the ⤢ button fits it again
    for state in (fit, county):  # cases a few metres apart stay apart on the screen (14 px markers)
        centres = state["incident_centres"]
        assert min(math.dist(a, b) for a, b in itertools.combinations(centres, 2)) >= 12, centres
    assert fit["cameras"] == ["cam-dongguan-road"]
    assert sorted(fit["incidents"]) == sorted(i["id"] for i in open_order)

    assert seen["kpi_link"] == {"href": "/kpis", "visible": True}

    # Reject asks for its reason; the pinned third tile stays where it was when the first one leaves.
    assert seen["reject_dialog"] == {"reasons": list(REASONS[Action.REJECT]), "reason_visible": True}
    before, after = seen["pin"]["before"], seen["pin"]["after"]
    assert after[2] == before[2] and after[:2] == [before[1], before[3]]
    assert after[3] == f"inc:{ids['resolved']}"
    assert json.loads(seen["pin"]["stored"]) == {"2": before[2]}  # kept by the browser across reloads
    assert seen["pin"]["dialog_closed"]
    final = _listed(api.base, COMMANDER)[ids["reported"]]
    assert final["state"] == "rejected"
    assert seen["reassign_dialog"] == {"id": ids["dispatched"], "asks": ["ask-assignee"]}
    assert _listed(api.base, COMMANDER)[ids["dispatched"]]["assignee"]["worker_id"] == "w002"
    assert shot.stat().st_size > 50_000
