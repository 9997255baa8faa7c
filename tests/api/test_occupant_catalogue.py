"""An occupation says what occupies, end to end: the built system (api.wiring.build_system, as ``serve`` runs
it) takes an occupation event from the link, and the incident in the API, the webhook JSON and the WeCom
and DingTalk texts show the occupant's 数字城管 sub-class, read from the labels of the event's boxes:
a vehicle (the detector's class) → 机动车乱停放（消防通道占用）, a class-agnostic static mass (``object``) →
街面秩序/乱堆物堆料 0507, one in a zone whose masses are goods (``goods``) → 街面秩序/店外经营. A vehicle seen
later in the same case makes it a blocked fire lane."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest

from api.auth import AuthConfig
from api.site import DEMO_PASSWORD, demo_site, load_site, seed_demo_users
from api.wiring import build_system
from detect.analysis.analyzer import evidence_of, jpeg_blob
from models.clock import ManualClock
from models.link import EventReport
from models.records import Detection, Event, EventKind, EventPhase
from models.store import Store
from router.notify.channels import Channel
from tests.rig import T0, NoDetector
from tests.router.centre.receiver import Received, receiving

VEHICLE_PATH = "街面秩序/机动车乱停放（消防通道占用） 0505"
DEBRIS_PATH = "街面秩序/乱堆物堆料 0507"
GOODS_PATH = "街面秩序/店外经营 0504"
_OCCUPANT = {VEHICLE_PATH: "vehicle", DEBRIS_PATH: "debris", GOODS_PATH: "goods"}


def ok(request: Received, before: int) -> tuple[int, bytes]:
    return 200, b'{"errcode":0,"errmsg":"ok"}'


def occupation(label: str, seconds: float = 0.0) -> EventReport:
    """An occupation START in the demo's fire lane (x 600-768, y 40-120) with one box labelled ``label``."""
    box = Detection((640.0, 50.0, 720.0, 100.0), 1.0 if label == "object" else 0.6, label, -1)
    snapshot, clean = b"\xff\xd8snapshot" + label.encode(), b"\xff\xd8clean" + label.encode()
    event = Event(
        kind=EventKind.OCCUPATION,
        camera_id="cam-dongguan-road",
        zone_name="fire-lane-by-building",
        started_at=T0 + timedelta(seconds=seconds),
        confidence=box.confidence,
        detections=(box,),
        evidence=(evidence_of(snapshot, "snapshot"), evidence_of(clean, "clean")),
    )
    return EventReport(EventPhase.START, event, (jpeg_blob(snapshot, "snapshot"), jpeg_blob(clean, "clean")))


async def _api_catalogue(app: Any) -> list[dict[str, Any]]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gridwatch") as client:
        token = await client.post("/api/auth/token", json={"username": "command", "password": DEMO_PASSWORD})
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        listed = (await client.get("/api/v1/incidents")).json()["items"]
        detail = (await client.get(f"/api/v1/incidents/{listed[0]['id']}")).json()
    return [i["catalogue"] for i in [*listed, detail]]


@pytest.mark.parametrize(
    ("labels", "opened_path", "final_path"),
    [
        (["vehicle"], VEHICLE_PATH, VEHICLE_PATH),
        (["object", "vehicle"], DEBRIS_PATH, VEHICLE_PATH),
        (["goods"], GOODS_PATH, GOODS_PATH),
    ],
)
async def test_the_incident_api_webhook_and_robots_show_the_occupants_class(
    store: Store, labels: list[str], opened_path: str, final_path: str
) -> None:
    site = demo_site()
    await load_site(store, replace(site, cameras=[replace(c, source="unused.avi") for c in site.cameras]))
    await seed_demo_users(store)
    async with receiving(ok) as hook, receiving(ok) as wecom_robot, receiving(ok) as dingtalk_robot:
        channels = [
            Channel("webhook:test", "webhook", hook.url),
            Channel("wecom:GW_ROBOT", "wecom", wecom_robot.url, None, 20),
            Channel("dingtalk:GW_ROBOT", "dingtalk", dingtalk_robot.url, None, 20),
        ]
        system = build_system(
            store, NoDetector(), ManualClock(T0), AuthConfig.for_demo(), timezone=site.timezone,
            channels=channels, clip_seconds=None,
        )  # fmt: skip
        await system.start(cameras=[])
        try:
            for n, label in enumerate(labels):
                # One report at a time, each notice sent before the next comes: a notice reads the case
                # as it stands when it is sent.
                await system.link.publish(occupation(label, seconds=10.0 * n))
                for _ in range(1200):  # a loaded machine delivers in seconds, not at once
                    robots = len(wecom_robot.requests) + len(dingtalk_robot.requests)
                    if len(hook.requests) == n + 1 and robots == 2:
                        break
                    await asyncio.sleep(0.05)
            api = await _api_catalogue(system.app)
        finally:
            await system.stop()
    topics = [r.json()["topic"] for r in hook.requests]
    assert topics == ["incident.opened", "incident.updated"][: len(labels)]
    sent = [r.json()["incident"]["catalogue"] for r in hook.requests]
    assert [(c["major"], c["minor"], c["code"], c["occupant"]) for c in sent] == [
        (*_classes(path), _OCCUPANT[path]) for path in [opened_path, final_path][: len(labels)]
    ]
    # The chat robots hear the opening only.
    assert f"分类：{opened_path}" in wecom_robot.requests[0].json()["markdown"]["content"]
    assert f"分类：{opened_path}" in dingtalk_robot.requests[0].json()["markdown"]["text"]
    assert all(c["path"] == final_path and c["occupant"] == _OCCUPANT[final_path] for c in api), api


def _classes(path: str) -> tuple[str, str, str]:
    """(大类, 小类, code) of a path as shown: 大类/小类（detail） code."""
    shown, code = path.split(" ")
    major, minor = shown.split("（")[0].split("/")
    return major, minor, code
