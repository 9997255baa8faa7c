"""Live rosters in the running system: what ``serve`` builds (build_system, every centre worker started)
hears a roster changed through the API or by ``gridwatch import-roster`` in another process, skips absent
workers for their cover, and hands waiting cases over at a shift's end."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from api.auth import AuthConfig, hash_password
from api.site import DEMO_PASSWORD, demo_site, load_site, seed_demo_users
from api.wiring import System, build_system
from models.clock import ManualClock
from models.records import Absence, IncidentState, Post
from models.store import Store, UserRecord
from router.deadlines import DEFAULT_POLICY, TimerKind
from tests.rig import T0, NoDetector, crowd_output
from tests.servers import run_cli

GRID_1 = "379901001001001"
GRID_2 = "379901001001002"


class Running:
    def __init__(self, system: System, store: Store, clock: ManualClock) -> None:
        self.system, self.store, self.clock = system, store, clock

    async def client(self, username: str | None = None) -> httpx.AsyncClient:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.system.app), base_url="http://gridwatch")
        if username is not None:
            response = await c.post("/api/auth/token", json={"username": username, "password": DEMO_PASSWORD})
            assert response.status_code == 200, response.text
            c.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return c

    async def incident_at(self, x: float, at: datetime) -> uuid.UUID:
        """A crowd START reported through the running centre's intake at ``at``; the incident it opens."""
        report = crowd_output(x)
        event = replace(report.event, id=uuid.uuid4(), started_at=at)
        result = await self.system.centre.intake.handle(replace(report, event=event))
        assert result is not None and result[1], "expected a new incident"
        return result[0]


@pytest.fixture
async def running(store: Store) -> AsyncIterator[Running]:
    site = demo_site()
    await load_site(store, replace(site, cameras=[replace(c, source="unused.avi") for c in site.cameras]))
    await seed_demo_users(store)
    password = hash_password(DEMO_PASSWORD)
    for username, post, unit, worker in (
        ("leader", Post.GRID_LEADER, GRID_1, "w008"),
        ("community", Post.COMMUNITY, "379901001001", "w010"),
    ):
        await store.users.upsert(UserRecord(username, username, password, post.value, unit, worker, False))
    clock = ManualClock(T0)
    system = build_system(
        store,
        NoDetector(),  # type: ignore[arg-type]
        clock,
        AuthConfig.for_demo(),
        timezone=site.timezone,
        clip_seconds=None,
        roster_recheck_s=0.5,
        handover_every_s=0.1,
    )
    await system.start(cameras=())
    try:
        yield Running(system, store, clock)
    finally:
        await system.stop()


async def eventually(predicate: Callable[[], object], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


def shift(worker: str, role: str, unit: str, start: str, end: str, weekdays: str = "*") -> dict[str, str]:
    return {
        "worker_id": worker,
        "name": f"姓名{worker}",
        "phone": "13900000000",
        "role": role,
        "unit_code": unit,
        "weekdays": weekdays,
        "start": start,
        "end": end,
    }


def worker(worker_id: str, unit: str, start: str, *, role: str = "grid_worker") -> dict[str, str]:
    return shift(worker_id, role, unit, start, "20:00")


SHIFTS_1 = f"/api/roster/{GRID_1}/shifts"
ABSENCE = {"worker_id": "w001", "starts_at": "2026-11-23 08:00", "ends_at": "2026-11-23 20:00"}
GRID_1_ROSTER = [
    shift("w020", "grid_worker", GRID_1, "08:00", "20:00"),
    shift("w002", "grid_worker", GRID_1, "20:00", "08:00"),
    shift("w008", "grid_leader", GRID_1, "00:00", "24:00"),
]


async def test_a_roster_changed_through_the_api_routes_the_next_incident_to_the_new_worker(
    running: Running,
) -> None:
    leader = await running.client("leader")
    try:
        before = running.system.centre.routing.roster_version
        response = await leader.put(SHIFTS_1, json={"shifts": GRID_1_ROSTER})
        assert response.status_code == 200, response.text
        read = (await leader.get(f"/api/roster/{GRID_1}")).json()
    finally:
        await leader.aclose()
    assert sorted(s["worker_id"] for s in read["shifts"]) == ["w002", "w008", "w020"]
    assert read["version"] > before
    incident = await running.store.incidents.get(await running.incident_at(100, T0))
    assert (incident.assignee_id, incident.unit_code) == ("w020", GRID_1)
    [audit] = await running.store.audit.entries("roster")
    assert (audit.actor, audit.action, audit.object_id) == ("leader", "roster.replace", GRID_1)
    # Other grids kept their shifts: only the leader's own area was replaced.
    assert any(s.worker_id == "w003" for s in await running.store.roster.load(GRID_2))


async def test_import_roster_from_another_process_reaches_the_running_service(
    running: Running, db_url: str, demo_dir: Path, tmp_path: Path
) -> None:
    rows = (demo_dir / "roster.csv").read_text(encoding="utf-8").splitlines()
    header = rows[0] + ",absent_from,absent_to,cover_id,absence_reason"
    body = [row.replace("w001,王芳", "w021,钱新") + ",,,," for row in rows[1:]]
    # w003 (grid …002, day shift) is on leave all day; w004 of the night shift covers.
    body = [
        row.replace(",,,,", ",2026-11-23 00:00,2026-11-24 00:00,w004,年假")
        if row.startswith("w003,")
        else row
        for row in body
    ]
    path = tmp_path / "roster.csv"
    path.write_text("\n".join([header, *body]) + "\n", encoding="utf-8")
    watch = running.system.centre.roster_watch
    assert watch is not None
    reloads = watch.reloads
    env = {**os.environ, "GRIDWATCH_DATABASE_URL": db_url}
    done = await asyncio.to_thread(run_cli, "import-roster", str(path), env=env)
    assert done.returncode == 0, done.stderr
    assert "and 1 absences" in done.stdout

    routing = running.system.centre.routing
    # Well inside the 0.5 s fallback check would be enough too; the notification makes it immediate.
    await eventually(lambda: (r := routing.roster()) is not None and r.worker("w021") is not None)
    assert watch.reloads == reloads + 1
    first = await running.store.incidents.get(await running.incident_at(100, T0))
    assert first.assignee_id == "w021"
    second = await running.store.incidents.get(await running.incident_at(600, T0))
    assert (second.unit_code, second.assignee_id) == (GRID_2, "w004")
    assert second.duty["covers"] == [{"absent": "w003", "cover": "w004"}]


async def test_a_lost_listener_is_covered_by_the_periodic_check(running: Running, db_url: str) -> None:
    routing = running.system.centre.routing
    listening = "FROM pg_stat_activity WHERE query LIKE 'LISTEN %gridwatch_roster%'"
    # The owner's own connection: the service's role may neither see nor end the listener's backend.
    owner = await asyncpg.connect(db_url)
    try:
        for _ in range(100):  # the watch starts listening on its first round
            if await owner.fetchval(f"SELECT count(*) {listening}"):
                break
            await asyncio.sleep(0.05)
        killed = await owner.fetchval(f"SELECT count(pg_terminate_backend(pid)) {listening}")
    finally:
        await owner.close()
    assert killed == 1
    shifts = [s for s in await running.store.roster.load() if s.worker_id != "w001"]
    await running.store.roster.replace(
        [replace(s, worker_id="w022") if s.worker_id == "w002" else s for s in shifts]
    )
    await eventually(lambda: (r := routing.roster()) is not None and r.worker("w022") is not None)
    assert routing.roster_version == await running.store.roster.version()


async def test_an_absent_worker_is_skipped_and_the_duty_chain_names_the_cover(running: Running) -> None:
    community = await running.client("community")
    try:
        response = await community.post(
            "/api/roster/absences",
            json={
                "worker_id": "w001",
                "starts_at": "2026-11-23 08:00",
                "ends_at": "2026-11-23T20:00:00+08:00",
                "cover_id": "w003",
                "reason": "病假 sick leave",
            },
        )
        assert response.status_code == 201, response.text
        absence = response.json()
        assert absence["starts_at"] == "2026-11-23T08:00:00+08:00" and absence["cover_id"] == "w003"
        incident = await running.store.incidents.get(await running.incident_at(100, T0))
        assert incident.assignee_id == "w003"
        assert incident.duty["covers"] == [{"absent": "w001", "cover": "w003"}]
        listed = (await community.get(f"/api/roster/{GRID_1}")).json()["absences"]
        assert [a["id"] for a in listed] == [absence["id"]]

        removed = await community.delete(f"/api/roster/absences/{absence['id']}")
        assert removed.status_code == 204
        roster = running.system.centre.routing.roster()
        assert roster is not None and roster.resolve(GRID_1, T0).assignee.worker_id == "w001"  # type: ignore[union-attr]
        again = await community.delete(f"/api/roster/absences/{absence['id']}")
        assert again.status_code == 404 and "no absence" in again.json()["detail"]
        assert (await community.delete("/api/roster/absences/first")).status_code == 404
    finally:
        await community.aclose()
    actions = [e.action for e in await running.store.audit.entries("roster")]
    assert actions == ["roster.absence.remove", "roster.absence.add"]


async def test_handover_at_shift_end_moves_the_unaccepted_case_and_leaves_the_accepted_one(
    running: Running,
) -> None:
    late = datetime(2026, 11, 23, 11, 55, tzinfo=UTC)  # 19:55 in Shanghai: w001's day shift ends at 20:00
    running.clock.set(late)
    waiting = await running.incident_at(100, late)
    accepted = await running.incident_at(600, late)  # grid …002, w003 (also 08:00–20:00)
    worker = await running.client("w003")
    try:
        response = await worker.post(f"/api/incidents/{accepted}/transitions", json={"action": "accept"})
        assert response.status_code == 200, response.text
    finally:
        await worker.aclose()
    await asyncio.sleep(0.3)  # several handover rounds before the shift ends: nothing moves
    assert (await running.store.incidents.get(waiting)).assignee_id == "w001"

    # 20:00:30, before the 10-minute accept deadline (20:05) would escalate the case instead.
    shift_end = late + timedelta(minutes=5, seconds=30)
    running.clock.set(shift_end)
    await eventually(
        lambda: running.system.centre.handover is not None and running.system.centre.handover.moved
    )
    moved = await running.store.incidents.get(waiting)
    assert (moved.state, moved.assignee_id) == (IncidentState.DISPATCHED, "w002")
    entry = (await running.store.incidents.log(waiting))[-1]
    assert (entry.action, entry.actor, entry.reason) == ("reassign", "system", "handover")
    assert entry.note.startswith("shift handover: w001 is off duty;")
    # The night worker's clock starts at the handover, not at the case's opening.
    assert moved.accept_by == DEFAULT_POLICY.deadlines(moved.severity, shift_end)[TimerKind.ACCEPT]
    assert moved.accept_by > late + timedelta(minutes=10)
    kept = await running.store.incidents.get(accepted)
    assert (kept.state, kept.assignee_id) == (IncidentState.ACCEPTED, "w003")


@pytest.mark.parametrize(
    ("user", "method", "path", "body", "reason"),
    [
        ("w001", "GET", f"/api/roster/{GRID_1}", None, "a grid_worker cannot read or change the roster"),
        ("w001", "PUT", SHIFTS_1, {"shifts": GRID_1_ROSTER}, "grid_worker cannot"),
        ("leader", "GET", f"/api/roster/{GRID_2}", None, f"unit {GRID_2} is outside your area"),
        ("leader", "PUT", f"/api/roster/{GRID_2}/shifts", {"shifts": []}, "outside your area"),
        ("leader", "POST", f"/api/roster/{GRID_2}/shifts", {"shifts": []}, "outside your area"),
        ("leader", "POST", "/api/roster/absences",
         {**ABSENCE, "worker_id": "w003"},
         "worker 'w003' is not rostered within your area"),
        ("leader", "POST", "/api/roster/absences",
         {**ABSENCE, "cover_id": "w003"},
         "cover_id: worker 'w003'"),
        ("chengguan", "GET", "/api/roster/379902", None, "outside your area"),
    ],
)  # fmt: skip
async def test_the_roster_api_is_scoped(
    running: Running, user: str, method: str, path: str, body: object, reason: str
) -> None:
    client = await running.client(user)
    try:
        response = await client.request(method, path, json=body)
    finally:
        await client.aclose()
    assert response.status_code == 403, response.text
    assert reason in response.json()["detail"]
    assert await running.store.audit.entries("roster") == []


@pytest.mark.parametrize("user", ["leader", "community", "chengguan", "command", "admin"])
async def test_managers_read_the_roster_of_their_area(running: Running, user: str) -> None:
    client = await running.client(user)
    try:
        response = await client.get(f"/api/roster/{GRID_1}")
    finally:
        await client.aclose()
    assert response.status_code == 200, response.text
    assert {s["worker_id"] for s in response.json()["shifts"]} >= {"w001", "w002", "w008"}


async def test_the_roster_needs_a_sign_in(running: Running) -> None:
    client = await running.client()
    try:
        assert (await client.get(f"/api/roster/{GRID_1}")).status_code == 401
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "reason"),
    [
        ("PUT", SHIFTS_1, [1, 2], 422, 'the body must be a JSON object {"shifts": [...]}'),
        ("PUT", SHIFTS_1, {"shifts": [worker("w020", GRID_1, "8:00")]},
         422, "shifts[0], start: time '8:00' is not HH:MM"),
        ("PUT", SHIFTS_1, {"shifts": [worker("w020", GRID_2, "08:00")]},
         422, f"shifts[0], unit_code: {GRID_2} is not under {GRID_1}"),
        ("PUT", SHIFTS_1, {"shifts": [worker("w020", GRID_1, "08:00", role="grid_boss")]},
         422, "shifts[0], role: must be one of"),
        ("PUT", SHIFTS_1, {"shifts": [{**GRID_1_ROSTER[0], "colour": "red"}]},
         422, "shifts[0]: unknown field(s) colour"),
        ("PUT", SHIFTS_1, {"shifts": [GRID_1_ROSTER[0], GRID_1_ROSTER[0]]},
         422, "shifts[1]: repeats shifts[0]"),
        ("PUT", "/api/roster/379901001001009/shifts", {"shifts": []}, 422, "no such grid"),
        ("POST", SHIFTS_1, {"shifts": []}, 422, "give at least one shift"),
        ("POST", SHIFTS_1, {"shifts": [worker("w001", GRID_1, "08:00")]},
         422, "shifts[0]: is already in the roster"),
        ("POST", "/api/roster/absences", {**ABSENCE, "ends_at": "2026-11-23 07:00"}, 422,
         "ends_at: must be after starts_at"),
        ("POST", "/api/roster/absences", {**ABSENCE, "starts_at": "tomorrow"}, 422,
         "starts_at: 'tomorrow' is not a date and time"),
        ("POST", "/api/roster/absences", {"worker_id": "w001"}, 422, "starts_at: required"),
        ("POST", "/api/roster/absences", {**ABSENCE, "starts_at": "0001-01-01 00:00"}, 422, "out of range"),
        ("POST", "/api/roster/absences", {**ABSENCE, "worker_id": "w099"}, 422, "no worker 'w099' in the"),
        ("POST", "/api/roster/absences", {**ABSENCE, "cover_id": "w001"}, 422, "cannot cover for themselves"),
        ("POST", "/api/roster/absences", "w001", 422, "the body must be a JSON object"),
        ("DELETE", "/api/roster/absences/999", None, 404, "no absence '999'"),
    ],
)  # fmt: skip
async def test_bad_input_is_refused_with_a_message(
    running: Running, method: str, path: str, body: object, status: int, reason: str
) -> None:
    client = await running.client("command")
    try:
        response = await client.request(method, path, json=body)
    finally:
        await client.aclose()
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert any(
        reason in text for text in ([d["reason"] for d in detail] if isinstance(detail, list) else [detail])
    )
    assert await running.store.audit.entries("roster") == []
    assert {s.worker_id for s in await running.store.roster.load(GRID_1)} == {"w001", "w002", "w008"}


async def test_the_cli_refuses_bad_leave_in_one_line_and_duty_names_the_cover(
    running: Running, db_url: str, demo_dir: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "GRIDWATCH_DATABASE_URL": db_url}
    rows = (demo_dir / "roster.csv").read_text(encoding="utf-8").splitlines()
    bad = [
        rows[0] + ",absent_from,absent_to,cover_id,absence_reason",
        rows[1] + ",2026-11-24 08:00,2026-11-23 08:00,,",
    ]
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(bad) + "\n", encoding="utf-8")
    version = await running.store.roster.version()
    refused = await asyncio.to_thread(run_cli, "import-roster", str(path), env=env)
    assert refused.returncode == 2
    assert refused.stderr.strip() == "error: line 2, absent_to: must be after absent_from"
    assert await running.store.roster.version() == version

    absence = Absence("w001", T0 - timedelta(hours=1), T0 + timedelta(hours=8), "w002", "培训 training")
    await running.store.roster.add_absence(absence, "test")
    duty = await asyncio.to_thread(
        run_cli, "duty", GRID_1, "--at", "2026-11-23T10:00+08:00", "--json", env=env
    )
    assert duty.returncode == 0, duty.stderr
    report = json.loads(duty.stdout)
    assert report["assignee"]["worker_id"] == "w002"
    assert report["covers"] == [{"absent": "w001", "cover": "w002"}]
    assert report["chain"][0]["absent"] == ["w001"]


async def test_leave_that_starts_hands_the_waiting_case_to_the_cover(running: Running) -> None:
    waiting = await running.incident_at(100, T0)
    assert (await running.store.incidents.get(waiting)).assignee_id == "w001"
    command = await running.client("command")
    try:
        response = await command.post(
            "/api/roster/absences",
            json={**ABSENCE, "cover_id": "w006", "reason": "家中急事 called away"},
        )
        assert response.status_code == 201, response.text
    finally:
        await command.aclose()
    await eventually(
        lambda: running.system.centre.handover is not None and running.system.centre.handover.moved
    )
    moved = await running.store.incidents.get(waiting)
    assert (moved.state, moved.assignee_id) == (IncidentState.DISPATCHED, "w006")
    entry = (await running.store.incidents.log(waiting))[-1]
    assert (entry.actor, entry.reason) == ("system", "handover") and "w001 is on leave" in entry.note
