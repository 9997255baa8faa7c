"""The site file's policies in the running system: read as ``serve`` reads the file
(api.site.configured_site), passed through ``build_system`` into the router, the casework and the
analysis role.

A crowd below its kind's ``file_above`` opens ``reported``, for nobody, with no deadline armed, and waits in
the review queue (GET /api/incidents?state=reported); filing it dispatches it to whoever is on duty and arms
the deadlines of the file's own windows; the file's triage row sets severity and department; the file's
offline tolerance is the one the analysis role applies.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from api.auth import AuthConfig
from api.problems import UsageProblem
from api.site import DEMO_PASSWORD, SiteData, configured_site, load_site, read_policies, seed_demo_users
from api.wiring import OFFLINE_AFTER_S, System, build_system
from ingest.frames import FrameSource
from ingest.health import CameraState
from models.clock import ManualClock
from models.link import RunCamera
from models.records import EventKind, IncidentState, Severity
from models.store import Store
from router.centre.verifier import ANSWER_SLACK
from router.policies import DEFAULT_POLICIES
from tests.api.test_cli_imports import gridwatch
from tests.conftest import DEMO_DIR
from tests.detect.analysis.test_offline import health_reaches
from tests.models.config.site_file import EXAMPLE
from tests.rig import T0, NoDetector, crowd_output

POLICIES = """
policies:
  triage:
    crowd: {severity: medium, department: 综治/城管, code: GW-CROWD-09}
  deadlines:
    medium: {accept_minutes: 7, arrive_minutes: 50}
  filing:
    crowd: {file_above: 0.9}
  verification: {crowd: 3}
  offline_after_seconds: 42
"""


def site_file(tmp_path: Path, policies: str = POLICIES) -> Path:
    """The example site with the demo county's grids and roster and the given policies section."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text[: text.index("# How cases are handled.")] + text[text.index("notifications:") :]
    path = tmp_path / "site.yaml"
    imports = f"grids_file: {DEMO_DIR / 'grids.geojson'}\nroster_file: {DEMO_DIR / 'roster.csv'}\n"
    path.write_text(f"{text}{policies}\n{imports}", encoding="utf-8")
    return path


@dataclass
class Served:
    system: System
    clock: ManualClock
    store: Store

    async def client(self, username: str) -> httpx.AsyncClient:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.system.app), base_url="http://gridwatch")
        response = await c.post("/api/auth/token", json={"username": username, "password": DEMO_PASSWORD})
        assert response.status_code == 200, response.text
        c.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return c


async def serve(store: Store, site: SiteData, camera_source: str = "unused.avi") -> Served:
    """What serve_site does with the site (api/cli/running.py), on a ManualClock and without uvicorn."""
    await load_site(store, replace(site, cameras=[replace(c, source=camera_source) for c in site.cameras]))
    await seed_demo_users(store)  # the sign-ins the pages use; the site's roster is the demo's
    clock = ManualClock(T0)
    system = build_system(
        store, NoDetector(), clock, AuthConfig.for_demo(), timezone=site.timezone, policies=site.policies
    )
    await system.centre.start(workers=False)
    return Served(system, clock, store)


@pytest.fixture
def env_free_of_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    # The example names the notification secrets; the site loads only when they are set.
    for name in ("GRIDWATCH_WEBHOOK_SECRET", "GRIDWATCH_WECOM_URL", "GRIDWATCH_DINGTALK_URL"):
        monkeypatch.setenv(name, "https://example.invalid/x" if name.endswith("URL") else "s")
    monkeypatch.setenv("GRIDWATCH_DINGTALK_SECRET", "SECx")


@pytest.fixture
async def served(store: Store, tmp_path: Path, env_free_of_secrets: None) -> AsyncIterator[Served]:
    site, _ = configured_site(site_file(tmp_path))
    running = await serve(store, site)
    yield running
    await running.system.analysis.stop()
    await running.system.centre.stop()


async def test_a_low_confidence_crowd_waits_in_the_review_queue_until_filed(served: Served) -> None:
    report = crowd_output(100)  # confidence 0.8, below the file's 0.9 for crowds
    result = await served.system.centre.intake.handle(report)
    assert result is not None and result[1]
    incident_id = result[0]
    waiting = await served.store.incidents.get(incident_id)
    assert (waiting.state, waiting.assignee_id, waiting.accept_by) == (IncidentState.REPORTED, None, None)
    assert await served.store.timers.of_incident(incident_id) == []
    log = await served.store.incidents.log(incident_id)
    assert [entry.action for entry in log] == ["report"]

    command = await served.client("command")
    worker = await served.client("w001")
    try:
        queue = (await command.get("/api/incidents", params={"state": "reported"})).json()
        assert [item["id"] for item in queue["items"]] == [str(incident_id)]
        assert {"file", "reject"} <= set(queue["items"][0]["actions"])
        assert (await worker.get("/api/incidents", params={"mine": True})).json()["items"] == []

        served.clock.advance(600)  # filed ten minutes later: the clocks run from the filing
        filed = await command.post(f"/api/incidents/{incident_id}/transitions", json={"action": "file"})
        assert filed.status_code == 200, filed.text
        assert (await command.get("/api/incidents", params={"state": "reported"})).json()["items"] == []
        mine = (await worker.get("/api/incidents", params={"mine": True})).json()["items"]
        assert [item["id"] for item in mine] == [str(incident_id)]
    finally:
        await command.aclose()
        await worker.aclose()
    incident = await served.store.incidents.get(incident_id)
    assert (incident.state, incident.assignee_id) == (IncidentState.DISPATCHED, "w001")
    filed_at = T0 + timedelta(seconds=600)
    live = {t.kind: t.due_at for t in await served.store.timers.of_incident(incident_id) if t.outcome is None}
    # The file's medium windows: accept 7 and arrive 50 minutes; resolve keeps today's 24 hours.
    assert live == {
        "accept": filed_at + timedelta(minutes=7),
        "arrive": filed_at + timedelta(minutes=50),
        "resolve": filed_at + timedelta(hours=24),
    }
    assert incident.accept_by == filed_at + timedelta(minutes=7)
    # Missed: the escalator hands it up with the file's accept window again, counted from the miss.
    missed_at = filed_at + timedelta(minutes=8)
    served.clock.advance(8 * 60)
    fired = await served.system.centre.escalator.run_once()
    assert [(f.kind, f.outcome) for f in fired] == [("accept", "escalated")]
    live = {t.kind: t.due_at for t in await served.store.timers.of_incident(incident_id) if t.outcome is None}
    assert live["accept"] == missed_at + timedelta(minutes=7)


async def test_a_confident_detection_folding_into_a_waiting_case_files_it(served: Served) -> None:
    first = await served.system.centre.intake.handle(crowd_output(100))
    assert first is not None
    later = T0 + timedelta(minutes=5)
    report = crowd_output(100)
    confident = replace(
        report, event=replace(report.event, id=uuid.uuid4(), confidence=0.95, started_at=later)
    )
    second = await served.system.centre.intake.handle(confident)
    assert second == (first[0], False)
    incident = await served.store.incidents.get(first[0])
    assert (incident.state, incident.assignee_id, incident.event_count) == (
        IncidentState.DISPATCHED,
        "w001",
        2,
    )
    assert incident.accept_by == later + timedelta(minutes=7)
    log = await served.store.incidents.log(first[0])
    assert [(e.action, e.actor) for e in log] == [
        ("report", "camera:cam-dongguan-road"),
        ("file", "system:router"),
    ]
    # A detection below file_above folding in leaves a filed case as it is.
    again = await served.system.centre.intake.handle(
        replace(report, event=replace(report.event, id=uuid.uuid4()))
    )
    assert again == (first[0], False)
    assert len(await served.store.incidents.log(first[0])) == 2


async def test_the_files_verification_window_is_what_the_camera_is_asked_to_watch(served: Served) -> None:
    result = await served.system.centre.intake.handle(crowd_output(100))
    verifier = served.system.centre.verifier
    assert result is not None and verifier is not None
    incident = await served.store.incidents.get(result[0])
    await verifier.resolved(incident)  # what Casework calls on a resolution
    watch = verifier.pending[incident.id]
    # The file's 3 minutes, not today's 10, plus the slack for the camera's answer.
    assert watch.due == served.clock.now() + timedelta(minutes=3) + ANSWER_SLACK


async def test_the_files_triage_row_sets_severity_and_department(served: Served) -> None:
    report = crowd_output(100)
    confident = replace(report, event=replace(report.event, confidence=0.95))
    result = await served.system.centre.intake.handle(confident)
    assert result is not None
    incident = await served.store.incidents.get(result[0])
    assert (incident.state, incident.severity, incident.department, incident.category_code) == (
        IncidentState.DISPATCHED,
        Severity.MEDIUM,
        "综治/城管",
        "GW-CROWD-09",
    )
    assert incident.assignee_id == "w001"
    # Filed as it opened: its deadlines are the file's windows from the event's start.
    assert incident.accept_by == T0 + timedelta(minutes=7)


async def test_the_files_offline_tolerance_is_the_analysis_roles(
    store: Store, tmp_path: Path, env_free_of_secrets: None
) -> None:
    site, _ = configured_site(site_file(tmp_path))
    assert site.policies.offline_after_s == 42
    # Nothing listens on port 1 of loopback: the camera can never connect.
    running = await serve(store, site, camera_source="rtsp://127.0.0.1:1/sub")
    analysis = running.system.analysis
    try:
        [camera] = running.system.centre.routing.cameras.values()
        await analysis.send(RunCamera(camera))
        await asyncio.sleep(0)
        source: FrameSource | None = analysis.live[camera.id].source
        assert source is not None
        await health_reaches(source.health, CameraState.OFFLINE)
        running.clock.advance(41)
        assert await analysis.check_offline() == []
        running.clock.advance(1)
        [report] = await analysis.check_offline()
        assert report.event.kind is EventKind.CAMERA_OFFLINE
    finally:
        await analysis.stop()
        await running.system.link.close()
        await running.system.centre.stop()


def test_todays_offline_tolerance_is_the_policy_default() -> None:
    """Fails if the wiring's constant and the policies' default drift apart."""
    assert OFFLINE_AFTER_S == DEFAULT_POLICIES.offline_after_s == 300.0


@pytest.mark.parametrize(
    ("policies", "problem"),
    [
        ("policies:\n  triage:\n    crowd: {severity: urgent}\n",
         "policies.triage.crowd.severity: Input should be 'low', 'medium', 'high' or 'critical'"),
        ("policies:\n  deadlines:\n    high: {accept_minutes: -1}\n",
         "policies.deadlines.high.accept_minutes: Input should be greater than 0"),
        ("policies:\n  filing:\n    flood: {file_above: 0.5}\n", "policies.filing.flood: unknown key"),
        ("policies:\n  snap_metres: 20\n", "policies.snap_metres: unknown key (did you mean 'snap_m'?)"),
        ("policies:\n  deadlines:\n    low: {resolve_minutes: 60}\n",
         "policies.deadlines.low: arrive within 480 min is later than resolve within 60 min"),
    ],
)  # fmt: skip
def test_check_config_names_each_policy_mistake(tmp_path: Path, policies: str, problem: str) -> None:
    good = gridwatch("postgresql://unused", "check-config", str(site_file(tmp_path)))
    assert good.returncode == 0, good.stderr
    path = site_file(tmp_path, policies)
    line = path.read_text(encoding="utf-8").splitlines().index("policies:") + 1
    result = gridwatch("postgresql://unused", "check-config", str(path))
    assert result.returncode == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("error: site.yaml:") and f": {problem}" in lines[0]
    assert int(lines[0].split(":")[2]) >= line


def test_the_demo_reads_the_policies_of_a_file(tmp_path: Path) -> None:
    only = tmp_path / "policies.yaml"
    only.write_text(POLICIES, encoding="utf-8")
    policies = read_policies(only)
    assert policies.offline_after_s == 42 and policies.filing.file_above == {EventKind.CROWD: 0.9}
    assert policies.deadlines.windows[Severity.MEDIUM].accept == timedelta(minutes=7)
    # A whole site file will do: its other sections are not read.
    assert read_policies(site_file(tmp_path)).offline_after_s == 42


def test_the_demo_refuses_a_broken_policies_file_in_one_line_per_mistake(tmp_path: Path) -> None:
    path = tmp_path / "policies.yaml"
    path.write_text("policies:\n  filing:\n    crowd: {file_abov: 0.5}\n  snap_m: -3\n", encoding="utf-8")
    with pytest.raises(UsageProblem) as refused:
        read_policies(path)
    assert refused.value.problems == [
        "policies.yaml:3: policies.filing.crowd.file_above: required key is missing",
        "policies.yaml:3: policies.filing.crowd.file_abov: unknown key (did you mean 'file_above'?)",
        "policies.yaml:4: policies.snap_m: Input should be greater than or equal to 0",
    ]
    polices = tmp_path / "polices.yaml"
    polices.write_text("polices: {snap_m: 3}\n", encoding="utf-8")
    result = gridwatch("postgresql://unused", "demo", "--policies", str(polices), "--port", "1")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: polices.yaml:1: policies: required key is missing"]
