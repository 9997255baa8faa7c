"""The delivery worker: outbox rows → webhook, WeCom and DingTalk robots, each channel at its own pace.

Each channel leases its pending deliveries from the database (store.deliveries.claim), one per
incident at a time so an incident's notices arrive in order, and records every attempt. A failed send
is retried with capped exponential backoff under the same Idempotency-Key (the outbox id), so a
receiver that applied a request whose answer was lost can ignore the repeat. When a channel answers
429 (or a robot's "too frequent" code) it goes quiet until the limit lapses and then sends what piled
up as one digest per grid.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from models.clock import Clock
from models.store.deliveries import ClaimedDelivery, DeliveryRepository
from models.store.incidents import IncidentRepository
from router.notify.channels import Channel
from router.notify.formats import channel_body, digest_body
from router.notify.notice import Notice
from router.notify.retry import Outcome, backoff, classify
from router.notify.signing import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    dingtalk_signed_url,
    webhook_signature,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Answer:
    outcome: Outcome
    detail: str
    retry_after_s: float | None = None


class Notifier:
    def __init__(
        self,
        deliveries: DeliveryRepository,
        incidents: IncidentRepository,
        clock: Clock,
        channels: Sequence[Channel],
        *,
        client: httpx.AsyncClient | None = None,
        base_delay: timedelta = timedelta(seconds=2),
        max_delay: timedelta = timedelta(minutes=5),
        max_attempts: int = 20,
        rate_limit_pause: timedelta = timedelta(seconds=60),
        lease_s: float = 60.0,
        poll_s: float = 1.0,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._deliveries = deliveries
        self._incidents = incidents
        self._clock = clock
        self.channels = list(channels)
        self._client = client or httpx.AsyncClient(timeout=10.0)
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._max_attempts = max_attempts
        self._pause = rate_limit_pause
        self._lease_s = lease_s
        self._poll_s = poll_s
        self._jitter = jitter
        self._wakeup = asyncio.Event()
        #: channel name → until when it is rate-limited (and collects a digest).
        self.digest_until: dict[str, datetime] = {}
        self._registered = False

    def wake(self) -> None:
        self._wakeup.set()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def run(self) -> None:
        while True:
            try:
                await self.deliver_once()
            except Exception:  # a database or network outage must not end delivery
                logger.exception("notification delivery failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._poll_s)
            self._wakeup.clear()

    async def deliver_once(self) -> int:
        """One pass over every channel; returns how many notices were delivered."""
        if not self._registered:
            await self._deliveries.register_channels([c.name for c in self.channels])
            self._registered = True
        delivered = 0
        for channel in self.channels:
            delivered += await self._deliver_channel(channel)
        return delivered

    async def _notice(self, row: ClaimedDelivery, channel: Channel | None = None) -> Notice:
        notice = Notice.of(row.outbox_id, row.topic, await self._incidents.get(row.incident_id))
        return notice.linked(channel.case_url if channel is not None else None)

    async def _deliver_channel(self, channel: Channel) -> int:
        now = self._clock.now()
        until = self.digest_until.get(channel.name)
        if until is not None:
            if now < until:
                return 0
            return await self._send_digests(channel)
        delivered = 0
        rows = await self._deliveries.claim(channel.name, now, lease_s=self._lease_s)
        for index, row in enumerate(rows):
            notice = await self._notice(row, channel)
            answer = await self._post(channel, channel_body(channel.kind, notice), str(notice.outbox_id))
            if answer.outcome is Outcome.RATE_LIMITED:
                self._enter_digest(channel, answer)
                # This row and the rest of the batch go out in the digest once the limit lapses.
                rest = [r.outbox_id for r in rows[index:]]
                await self._deliveries.finish(channel.name, rest, retry_at=now, error=answer.detail)
                break
            delivered += await self._record(channel, [row], answer)
        return delivered

    async def _send_digests(self, channel: Channel) -> int:
        now = self._clock.now()
        rows = await self._deliveries.claim(
            channel.name, now, lease_s=self._lease_s, limit=500, oldest_per_incident=False
        )
        groups: dict[str, list[tuple[ClaimedDelivery, Notice]]] = {}
        for row in rows:
            notice = await self._notice(row, channel)
            groups.setdefault(notice.digest_group, []).append((row, notice))
        delivered = 0
        pending = list(groups.items())
        for index, (group, items) in enumerate(pending):
            notices = [n for _, n in items]
            ids = [n.outbox_id for n in notices]
            key = f"digest:{min(ids)}-{max(ids)}:{len(ids)}"
            answer = await self._post(channel, digest_body(channel.kind, group, notices), key)
            if answer.outcome is Outcome.RATE_LIMITED:
                self._enter_digest(channel, answer)
                left = [r.outbox_id for _, rest in pending[index:] for r, _ in rest]
                await self._deliveries.finish(channel.name, left, retry_at=now, error=answer.detail)
                return delivered
            delivered += await self._record(channel, [r for r, _ in items], answer, via_digest=True)
        self.digest_until.pop(channel.name, None)
        return delivered

    def _enter_digest(self, channel: Channel, answer: Answer) -> None:
        pause = timedelta(seconds=answer.retry_after_s) if answer.retry_after_s else self._pause
        self.digest_until[channel.name] = self._clock.now() + pause
        logger.warning("channel %s is rate-limited; sending per-grid digests after %s", channel.name, pause)

    async def _record(
        self, channel: Channel, rows: Sequence[ClaimedDelivery], answer: Answer, *, via_digest: bool = False
    ) -> int:
        ids = [r.outbox_id for r in rows]
        now = self._clock.now()
        if answer.outcome is Outcome.DELIVERED:
            await self._deliveries.finish(channel.name, ids, delivered_at=now, via_digest=via_digest)
            return len(ids)
        attempts = max(r.attempts for r in rows) + 1
        if answer.outcome is Outcome.REJECTED or attempts >= self._max_attempts:
            logger.error("channel %s gave up on outbox %s: %s", channel.name, ids, answer.detail)
            await self._deliveries.finish(channel.name, ids, failed_at=now, error=answer.detail)
            return 0
        delay = backoff(attempts, self._base_delay, self._max_delay, self._jitter() * 0.5)
        logger.info("channel %s: outbox %s failed (%s); retry in %s", channel.name, ids, answer.detail, delay)
        await self._deliveries.finish(channel.name, ids, retry_at=now + delay, error=answer.detail)
        return 0

    async def _post(self, channel: Channel, body: dict[str, Any], key: str) -> Answer:
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: key}
        url = channel.url
        if channel.kind == "webhook" and channel.secret:
            stamp = int(self._clock.now().timestamp())
            headers[TIMESTAMP_HEADER] = str(stamp)
            headers[SIGNATURE_HEADER] = webhook_signature(channel.secret, stamp, payload)
        elif channel.kind == "dingtalk" and channel.secret:
            url = dingtalk_signed_url(url, channel.secret, int(self._clock.now().timestamp() * 1000))
        try:
            response = await self._client.post(url, content=payload, headers=headers)
        except httpx.HTTPError as exc:
            return Answer(Outcome.RETRY, f"{type(exc).__name__}: {exc}")
        outcome = classify(response.status_code, response.content)
        return Answer(outcome, f"HTTP {response.status_code}", _retry_after(response))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None
