"""Outbox → channels against a real local HTTP receiver: retries, idempotency, order, digests, signing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx

from models.clock import ManualClock
from models.incidents import LogEntry
from models.records import IncidentState
from models.store import Store
from router.centre.feed import Broadcaster, OutboxRelay
from router.centre.notifier import Notifier
from router.notify.channels import Channel
from router.notify.signing import dingtalk_sign, verify_webhook
from tests.router.centre.receiver import Received, receiving
from tests.router.centre.routing_helpers import demo_router, opening, stall_event
from tests.router.demo_data import CAMERA_ID

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
FOOTS = [(235, 262), (630, 365)]  # two grids, so two incidents


def notifier(store: Store, clock: ManualClock, channel: Channel, **kw: object) -> Notifier:
    client = httpx.AsyncClient(timeout=5.0)
    return Notifier(
        store.deliveries, store.incidents, clock, [channel], client=client, base_delay=timedelta(seconds=1),
        max_delay=timedelta(seconds=8), jitter=lambda: 0.0, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


async def produce(store: Store, per_incident: int) -> list[int]:
    """Open two incidents and update each a few times; returns the outbox ids written."""
    router = demo_router()
    for n in range(per_incident):
        for foot in FOOTS:
            event = stall_event(CAMERA_ID, T0 + timedelta(seconds=n), foot)
            await store.events.record(event, opening(router, event))
    return [r.id for r in await store.outbox.pending(limit=1000)]


async def drain(n: Notifier, clock: ManualClock, rounds: int = 40) -> None:
    for _ in range(rounds):
        await n.deliver_once()
        clock.advance(1.0)


async def test_fails_three_times_then_succeeds_exactly_once_in_effect_in_order(store: Store) -> None:
    def flaky(request: Received, before: int) -> tuple[int, bytes]:
        return (503, b"busy") if before < 3 else (200, b"{}")

    clock = ManualClock(T0)
    async with receiving(flaky) as receiver:
        channel = Channel("webhook:test", "webhook", receiver.url, "s3cret")
        n = notifier(store, clock, channel)
        await n.deliver_once()  # registers the channel: it receives rows written from now on
        ids = await produce(store, per_incident=3)
        await drain(n, clock)
        await n.aclose()
    assert len(receiver.requests) == len(ids) + 3
    applied: dict[str, Received] = {}
    for request in receiver.requests:
        stamp = int(request.headers["x-gridwatch-timestamp"])
        assert verify_webhook("s3cret", stamp, request.body, request.headers["x-gridwatch-signature"])
        applied.setdefault(request.headers["idempotency-key"], request)  # the receiver's dedup
    assert sorted(int(k) for k in applied) == ids
    per_incident: dict[str, list[int]] = {}
    for key, request in applied.items():
        per_incident.setdefault(request.json()["incident"]["id"], []).append(int(key))
    assert len(per_incident) == 2
    for outbox_ids in per_incident.values():
        assert outbox_ids == sorted(outbox_ids)  # first applied order is outbox order
    rows = await store.deliveries.of_channel("webhook:test")
    assert all(r.delivered_at is not None for r in rows) and len(rows) == len(ids)
    # The SSE relay tracks its own progress on the same rows, untouched by the webhook channel.
    relay = OutboxRelay(store.outbox, store.incidents, Broadcaster())
    assert await relay.deliver_pending() == len(ids)


async def test_a_lost_answer_is_retried_with_the_same_key_and_applied_once(store: Store) -> None:
    seen: set[str] = set()

    def applies_then_drops(request: Received, before: int) -> tuple[int, bytes]:
        key = request.headers["idempotency-key"]
        first = key not in seen
        seen.add(key)
        return (502, b"") if first else (200, b"")  # applied, but the answer did not get back

    clock = ManualClock(T0)
    async with receiving(applies_then_drops) as receiver:
        n = notifier(store, clock, Channel("webhook:lossy", "webhook", receiver.url))
        await n.deliver_once()
        ids = await produce(store, per_incident=2)
        await drain(n, clock)
        await n.aclose()
    keys = [r.headers["idempotency-key"] for r in receiver.requests]
    assert sorted({int(k) for k in keys}) == ids and len(keys) == 2 * len(ids)


async def test_rate_limit_switches_to_one_digest_per_grid(store: Store) -> None:
    def limited(request: Received, before: int) -> tuple[int, bytes]:
        return (429, b"") if before == 0 else (200, b'{"errcode":0}')

    clock = ManualClock(T0)
    async with receiving(limited) as receiver:
        channel = Channel("dingtalk:ROBOT", "dingtalk", receiver.url + "?access_token=tok", "SECx")
        n = notifier(store, clock, channel, rate_limit_pause=timedelta(seconds=5))
        await n.deliver_once()
        ids = await produce(store, per_incident=4)
        await n.deliver_once()
        assert "dingtalk:ROBOT" in n.digest_until
        await drain(n, clock, rounds=10)
        await n.aclose()
    digests = [r.json() for r in receiver.requests[1:]]
    assert len(digests) == 2 and all("事件汇总" in d["markdown"]["title"] for d in digests)
    assert {p for d in digests for p in d["at"]["atMobiles"]} == {"13800000001", "13800000003"}
    rows = await store.deliveries.of_channel("dingtalk:ROBOT")
    assert [r.outbox_id for r in rows] == ids and all(r.via_digest for r in rows)
    query = parse_qs(urlsplit(receiver.requests[0].path).query)
    assert query["access_token"] == ["tok"]
    assert query["sign"] == [parse_qs("s=" + dingtalk_sign("SECx", int(query["timestamp"][0])))["s"][0]]


async def test_rejected_notice_is_given_up_and_unblocks_the_incident(store: Store) -> None:
    def reject_first(request: Received, before: int) -> tuple[int, bytes]:
        return (400, b"bad") if before == 0 else (200, b"")

    clock = ManualClock(T0)
    async with receiving(reject_first) as receiver:
        n = notifier(store, clock, Channel("webhook:strict", "webhook", receiver.url))
        await n.deliver_once()
        router = demo_router()
        event = stall_event(CAMERA_ID, T0)
        incident_id, _ = await store.events.record(event, opening(router, event))
        await store.incidents.apply(
            LogEntry(incident_id, IncidentState.DISPATCHED, IncidentState.ACCEPTED, "accept", "w001", T0)
        )
        await drain(n, clock, rounds=3)
        await n.aclose()
    rows = await store.deliveries.of_channel("webhook:strict")
    assert rows[0].failed_at is not None and rows[1].delivered_at is not None
    assert len(receiver.requests) == 2
