"""``/metrics`` (issue 15): incidents opened, escalated and late by kind and township, the event → incident
latency histogram, camera state and analysed fps, outbox depth and delivery failures per channel; read
with the scrape key (Bearer or ?key=) or as an admin; every metric the Grafana dashboard queries exists."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.auth import AuthConfig, hash_password, key_digest
from api.site import DEMO_PASSWORD
from models.store import Store, UserRecord
from tests.conftest import REPO
from tests.rig import Rig, crowd_output, demo_rig

KEY = "scrape-key-0123456789abcdef"
TOWNSHIP = "379901001"
DASHBOARD = REPO / "docs" / "grafana" / "gridwatch.json"


@pytest.fixture
async def rig(store: Store) -> AsyncIterator[Rig]:
    auth = replace(AuthConfig.for_demo(), metrics_key_sha256=key_digest(KEY))
    await store.deliveries.register_channels(["ops-webhook"])
    rig = await demo_rig(store, auth=auth)
    yield rig
    await rig.stop()


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def _scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200, response.text
    return _samples(response.text)


async def test_the_figures_follow_what_happens(rig: Rig) -> None:
    client = await rig.client()
    before = await _scrape(client)
    assert not [k for k in before if k[0] == "gridwatch_incidents_opened_total"]
    opened = await rig.report(crowd_output(100))
    assert opened is not None
    rig.clock.advance(24 * 3600)  # every deadline of the crowd passed, nobody acted
    fired = await rig.centre.escalator.run_once()
    assert fired
    # The notifier's attempts, as it records them: two failed, one given up on.
    now = rig.clock.now()
    claimed = await rig.store.deliveries.claim("ops-webhook", now, lease_s=0)
    assert claimed
    ids = [c.outbox_id for c in claimed]
    await rig.store.deliveries.finish("ops-webhook", ids, retry_at=now, error="HTTP 502")
    await rig.store.deliveries.finish("ops-webhook", ids[:1], failed_at=now, error="HTTP 502")

    seen = await _scrape(client)
    crowd = frozenset({("kind", "crowd"), ("township", TOWNSHIP)})
    assert seen[("gridwatch_incidents_opened_total", crowd)] == 1
    escalated = seen[("gridwatch_incidents_escalated_total", crowd)]
    late = seen[("gridwatch_incidents_late_total", crowd)]
    assert late == len(fired) and escalated == sum(f.outcome == "escalated" for f in fired)
    # The manual clock opened the incident at the event's start: the first bucket holds it.
    kind = frozenset({("kind", "crowd")})
    assert seen[("gridwatch_event_to_incident_seconds_count", kind)] == 1
    assert seen[("gridwatch_event_to_incident_seconds_bucket", kind | {("le", "0.25")})] == 1
    assert seen[("gridwatch_event_to_incident_seconds_sum", kind)] == 0
    # The rig runs no camera loop: the camera is connecting, nothing analysed.
    camera = ("camera", "cam-dongguan-road")
    assert seen[("gridwatch_camera_state", frozenset({camera, ("state", "connecting")}))] == 1
    assert seen[("gridwatch_camera_state", frozenset({camera, ("state", "online")}))] == 0
    assert seen[("gridwatch_camera_analysed_fps", frozenset({camera}))] == 0
    assert seen[("gridwatch_outbox_depth", frozenset())] > 0  # no relay runs in this rig
    channel = frozenset({("channel", "ops-webhook")})
    assert seen[("gridwatch_delivery_failures_total", channel)] == len(ids) + 1
    assert seen[("gridwatch_delivery_given_up_total", channel)] == 1
    assert seen[("gridwatch_delivery_pending", channel)] >= len(ids) - 1


async def test_prometheus_scrapes_with_its_key_and_only_admins_without(rig: Rig) -> None:
    client = await rig.client()
    assert (await client.get("/metrics")).status_code == 401
    assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong-key"})).status_code == 401
    assert (await client.get("/metrics", params={"key": "wrong-key"})).status_code == 401
    assert (await client.get("/metrics", params={"key": KEY})).status_code == 200
    assert (await client.get("/metrics", headers={"Authorization": f"Bearer {KEY}"})).status_code == 200
    worker = await rig.client("w001")
    assert (await worker.get("/metrics")).status_code == 403
    admin = await rig.client("admin")
    assert (await admin.get("/metrics")).status_code == 200
    # An admin's machine API key too (X-API-Key), and a county command's is refused.
    for role, unit, status in (("admin", "", 200), ("county_command", "379901", 403)):
        await rig.store.users.add_api_key(f"k-{role}", role, key_digest(f"api-key-{role}"), role, unit)
        r = await client.get("/metrics", headers={"X-API-Key": f"api-key-{role}"})
        assert r.status_code == status, r.text


async def test_without_a_key_only_admins_scrape(store: Store) -> None:
    rig = await demo_rig(store)
    client = await rig.client()
    assert (await client.get("/metrics", params={"key": ""})).status_code == 401
    assert (await client.get("/metrics", headers={"Authorization": "Bearer anything"})).status_code == 401
    await store.users.upsert(UserRecord("ops", "Ops", hash_password(DEMO_PASSWORD), "admin", "", None, False))
    assert (await (await rig.client("ops")).get("/metrics")).status_code == 200
    await rig.stop()


async def test_every_metric_the_dashboard_queries_exists(rig: Rig) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    exprs += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    queried = {name for expr in exprs for name in re.findall(r"\bgridwatch_[a-z0-9_]+", expr)}
    assert len(queried) >= 12
    await rig.report(crowd_output(100))
    seen = {name for name, _ in await _scrape(await rig.client())}
    assert sorted(queried - seen) == []
