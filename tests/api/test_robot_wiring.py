"""The built system (api.wiring.build_system, as ``serve`` runs it) sends chat robots only what a group needs
and webhooks every change, each through its own worker, against local HTTP receivers."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from api.auth import AuthConfig
from api.site import demo_site, load_site
from api.wiring import build_system
from models.clock import ManualClock
from models.store import Store
from router.notify.channels import Channel
from tests.rig import T0, NoDetector, crowd_output
from tests.router.centre.receiver import Received, receiving


def ok(request: Received, before: int) -> tuple[int, bytes]:
    return 200, b'{"errcode":0,"errmsg":"ok"}'


async def test_robots_hear_the_opening_and_webhooks_every_change(store: Store) -> None:
    site = demo_site()
    await load_site(store, replace(site, cameras=[replace(c, source="unused.avi") for c in site.cameras]))
    async with receiving(ok) as hook, receiving(ok) as robot:
        webhook = Channel("webhook:test", "webhook", hook.url)
        wecom = Channel("wecom:GW_ROBOT", "wecom", robot.url, None, 20, "https://gw.example")
        system = build_system(
            store, NoDetector(), ManualClock(T0), AuthConfig.for_demo(), timezone=site.timezone,
            channels=[webhook, wecom], clip_seconds=None,
        )  # fmt: skip
        assert system.centre.notifier is not None and system.centre.notifier.channels == [webhook]
        assert system.centre.robots is not None and system.centre.robots.channels == [wecom]
        await system.start(cameras=[])
        try:
            await system.link.publish(crowd_output(100))  # opens
            await system.link.publish(crowd_output(110))  # a second sighting of it
            for _ in range(200):
                rows = await store.deliveries.of_channel("wecom:GW_ROBOT")
                if len(hook.requests) == 2 and len(rows) == 2 and all(r.delivered_at for r in rows):
                    break
                await asyncio.sleep(0.05)
        finally:
            await system.stop()
    assert [r.json()["topic"] for r in hook.requests] == ["incident.opened", "incident.updated"]
    assert len(robot.requests) == 1
    content = robot.requests[0].json()["markdown"]["content"]
    assert content.startswith("### 新事件") and "?incident=" in content
    rows = await store.deliveries.of_channel("wecom:GW_ROBOT")
    assert [r.skipped for r in rows] == [False, True]
