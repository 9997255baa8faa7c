"""Chat robots within their limits, against a local HTTP server speaking WeCom's and DingTalk's replies, on
simulated time: a burst of 200 incidents, ≤ 20 requests in any minute, every incident in a message or a
digest, the robot's own "too fast" answer ridden out, nothing lost and nothing sent for sightings."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx

from models.clock import ManualClock
from models.incidents import LogEntry
from models.records import IncidentState
from models.store import Store
from router.centre.robots import RobotNotifier
from router.notify.channels import Channel
from tests.router.centre.receiver import Received, receiving
from tests.router.centre.routing_helpers import demo_router, opening, stall_event
from tests.router.demo_data import CAMERA_ID

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
FOOTS = [(235, 262), (630, 365)]  # two grids
CONSOLE = "https://gw.example.gov.cn"
LINK = re.compile(r"\?incident=([0-9a-f-]{36})")
MINUTE = timedelta(minutes=1)


async def burst(store: Store, count: int, first: int = 0) -> list[uuid.UUID]:
    """``count`` incidents at once (distinct dedup keys, two grids), and a second sighting of every tenth."""
    router = demo_router()
    items = []
    for n in range(first, first + count):
        event = stall_event(CAMERA_ID, T0 + timedelta(milliseconds=n), FOOTS[n % 2])
        items.append((event, replace(opening(router, event), dedup_key=f"burst-{n}"), ()))
    ids = [incident_id for incident_id, _ in await store.events.record_many(items)]
    sightings = []
    for n in range(first, first + count, 10):
        event = stall_event(CAMERA_ID, T0 + timedelta(seconds=1, milliseconds=n), FOOTS[n % 2])
        sightings.append((event, replace(opening(router, event), dedup_key=f"burst-{n}"), ()))
    assert not any(opened for _, opened in await store.events.record_many(sightings))
    return ids


class Robot:
    """A WeCom robot: 20 requests a minute on the test's clock, then errcode 45009; also one 45009 early,
    as when other senders share the robot and spend its minute."""

    def __init__(self, clock: ManualClock, *, limit: int = 20, refuse_at: int = 4) -> None:
        self.clock = clock
        self.limit = limit
        self.refuse_at = refuse_at
        self.times: list[datetime] = []
        self.accepted: list[str] = []

    def answer(self, request: Received, before: int) -> tuple[int, bytes]:
        now = self.clock.now()
        self.times.append(now)
        recent = [t for t in self.times if t > now - MINUTE]
        if before == self.refuse_at or len(recent) > self.limit:
            return 200, b'{"errcode":45009,"errmsg":"api freq out of limit"}'
        self.accepted.append(request.json()["markdown"]["content"])
        return 200, b'{"errcode":0,"errmsg":"ok"}'


def most_in_any_minute(times: list[datetime]) -> int:
    return max((sum(1 for u in times if t <= u < t + MINUTE) for t in times), default=0)


async def run_until_settled(notifier: RobotNotifier, store: Store, clock: ManualClock, channel: str) -> None:
    for _ in range(3600):  # an hour of simulated seconds at most
        await notifier.deliver_once()
        rows = await store.deliveries.of_channel(channel)
        if rows and all(r.delivered_at is not None or r.failed_at is not None for r in rows):
            return
        clock.advance(1.0)
    raise AssertionError("deliveries still pending after an hour")


async def test_a_burst_of_200_incidents_stays_within_the_robots_limit_and_loses_nothing(store: Store) -> None:
    clock = ManualClock(T0)
    robot = Robot(clock)
    async with receiving(robot.answer) as receiver:
        channel = Channel("wecom:GW_ROBOT", "wecom", receiver.url, None, 20, CONSOLE)
        notifier = RobotNotifier(
            store.deliveries, store.incidents, clock, [channel], client=httpx.AsyncClient(timeout=5.0)
        )
        await notifier.deliver_once()  # registers the channel
        incidents = await burst(store, 200)
        await run_until_settled(notifier, store, clock, channel.name)
        # Closing is a change the group needs: three cases close later, each announced.
        for incident_id in incidents[:3]:
            await store.incidents.apply(
                LogEntry(
                    incident_id, IncidentState.DISPATCHED, IncidentState.CLOSED, "close", "w001", clock.now()
                )
            )
        await run_until_settled(notifier, store, clock, channel.name)
        await notifier.aclose()
    assert most_in_any_minute(robot.times) <= 20, robot.times
    assert len(receiver.requests) == len(robot.times)
    refused = len(robot.times) - len(robot.accepted)
    assert refused == 1  # the injected one: our window alone never exceeded the robot's own
    mentioned = [set(LINK.findall(text)) for text in robot.accepted]
    assert set().union(*mentioned) == {str(i) for i in incidents}
    digests = [text for text in robot.accepted if "事件汇总" in text]
    assert digests and all(len(text.encode()) <= 4096 for text in robot.accepted)
    assert all(text.startswith("### 网格 ") for text in digests)  # one grid's incidents per digest
    closed = [text for text in robot.accepted if "closed" in text]
    assert {i for text in closed for i in LINK.findall(text)} == {str(i) for i in incidents[:3]}
    rows = await store.deliveries.of_channel(channel.name)
    sent = [r for r in rows if not r.skipped]
    assert all(r.delivered_at is not None and r.failed_at is None for r in rows)
    assert len(sent) == 203  # 200 openings, 3 closings
    outbox = {r.id: r.topic for r in await store.outbox.pending(limit=1000)}
    assert {outbox[r.outbox_id] for r in rows if r.skipped} == {"incident.updated"}
    assert len([r for r in rows if r.skipped]) == 20  # every sighting: no message
    assert not any("事件更新" in text for text in robot.accepted)


async def test_dingtalk_send_too_fast_is_backed_off_and_retried(store: Store) -> None:
    clock = ManualClock(T0)
    times: list[datetime] = []
    texts: list[str] = []

    def dingtalk(request: Received, before: int) -> tuple[int, bytes]:
        times.append(clock.now())
        if before < 2:
            return 200, json.dumps({"errcode": 130101, "errmsg": "send too fast"}).encode()
        texts.append(request.json()["markdown"]["text"])
        return 200, b'{"errcode":0,"errmsg":"ok"}'

    async with receiving(dingtalk) as receiver:
        channel = Channel("dingtalk:GW_DING", "dingtalk", receiver.url, None, 5, CONSOLE)
        notifier = RobotNotifier(
            store.deliveries, store.incidents, clock, [channel], client=httpx.AsyncClient(timeout=5.0),
            rate_limit_pause=timedelta(seconds=30),
        )  # fmt: skip
        await notifier.deliver_once()
        incidents = await burst(store, 3)
        await run_until_settled(notifier, store, clock, channel.name)
        await notifier.aclose()
    # Refused twice, each followed by a pause, the second twice the first: then all three one by one.
    assert times[1] - times[0] == timedelta(seconds=30) and times[2] - times[1] == timedelta(seconds=60)
    assert {i for text in texts for i in LINK.findall(text)} == {str(i) for i in incidents}
    assert len(texts) == 3 and most_in_any_minute(times) <= 5


async def test_a_restart_does_not_reset_the_robots_minute(store: Store) -> None:
    clock = ManualClock(T0)
    robot = Robot(clock, refuse_at=-1)
    async with receiving(robot.answer) as receiver:
        channel = Channel("wecom:GW_ROBOT", "wecom", receiver.url, None, 5, CONSOLE)

        def notifier() -> RobotNotifier:
            return RobotNotifier(
                store.deliveries, store.incidents, clock, [channel], client=httpx.AsyncClient(timeout=5.0)
            )

        first = notifier()
        await first.deliver_once()
        await burst(store, 4)  # four messages, one at a time
        for _ in range(4):
            await first.deliver_once()
            clock.advance(10.0)
        await first.aclose()
        second = notifier()  # the service restarted 40 s into the minute
        await burst(store, 4, first=4)
        await run_until_settled(second, store, clock, channel.name)
        await second.aclose()
    assert len(robot.accepted) >= 5 and most_in_any_minute(robot.times) <= 5, robot.times
