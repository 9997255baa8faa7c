"""Chat robots (WeCom, DingTalk) within their limits: a send window per robot, per-grid digests beyond it,
and only the changes a group needs (router/notify/robots.py says which and how).

A robot endpoint gets at most its ``messages_per_minute`` requests in any minute, counted on the injected
clock. Each pass leases what is pending for the robot; changes a group is not told of (each sighting or clip)
are settled as skipped; the rest go out one by one while the window allows, else as one digest per grid;
what neither carries is handed back until the window frees a token. A robot that still answers "too fast"
(WeCom 45009, DingTalk 130101, HTTP 429) gets nothing until its pause lapses, and loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from models.store.deliveries import ClaimedDelivery
from router.centre.notifier import Answer, Notifier
from router.notify.channels import Channel
from router.notify.formats import channel_body, digest_body, digest_markdown
from router.notify.retry import Outcome
from router.notify.robots import (
    DIGEST_BYTES,
    ROBOT_MESSAGES_PER_MINUTE,
    ROBOT_MUTE,
    Message,
    SendWindow,
    plan,
    robot_change,
)

logger = logging.getLogger(__name__)


class RobotNotifier(Notifier):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """As Notifier; each channel's ``per_minute`` (default the robots' published 20) sizes its window."""
        super().__init__(*args, **kwargs)
        self._seeded: set[str] = set()
        #: Channel → "too fast" answers in a row; each doubles the pause, up to the robots' 10-minute mute.
        self._refusals: dict[str, int] = {}
        self.windows = {c.name: SendWindow(c.per_minute or ROBOT_MESSAGES_PER_MINUTE) for c in self.channels}

    async def _deliver_channel(self, channel: Channel) -> int:
        now = self._clock.now()
        until = self.digest_until.get(channel.name)
        if until is not None:
            if now < until:
                return 0
            del self.digest_until[channel.name]
        window = self.windows[channel.name]
        if channel.name not in self._seeded:
            # A restart must not reset the robot's minute: what went out just before still counts.
            recent = await self._deliveries.sent_since(channel.name, now - window.period)
            for sent in recent[-window.limit :]:
                window.spend(sent)
            self._seeded.add(channel.name)
        if window.available(now) == 0:
            return 0
        rows = await self._deliveries.claim(
            channel.name, now, lease_s=self._lease_s, limit=1000, oldest_per_incident=False
        )
        if not rows:
            return 0
        wanted = [r for r in rows if robot_change(r.topic, r.payload) is not None]
        skipped = [r.outbox_id for r in rows if robot_change(r.topic, r.payload) is None]
        await self._deliveries.skip(channel.name, skipped, now)
        by_id = {r.outbox_id: r for r in wanted}
        notices = [await self._notice(r, channel) for r in wanted]
        messages, waiting = plan(
            notices,
            window.available(now),
            size=lambda group, items: len(digest_markdown(group, items).encode()),
            digest_bytes=DIGEST_BYTES.get(channel.kind, 18000),
        )
        delivered = 0
        for index, message in enumerate(messages):
            rows_of = [by_id[n.outbox_id] for n in message.notices]
            window.spend(self._clock.now())
            answer = await self._post(channel, self._body(channel, message), self._key(message))
            if answer.outcome is Outcome.RATE_LIMITED:
                resume = self._refused(channel, answer)
                window.exhaust(resume)
                held = [n.outbox_id for m in messages[index:] for n in m.notices]
                await self._deliveries.release(channel.name, held, resume, error=answer.detail)
                break
            if answer.outcome is Outcome.DELIVERED:
                self._refusals.pop(channel.name, None)
            delivered += await self._record(channel, rows_of, answer, via_digest=message.is_digest)
        if waiting:
            resume_at = window.next_free(self._clock.now())
            await self._hold(channel, [by_id[n.outbox_id] for n in waiting], resume_at)
        return delivered

    def _refused(self, channel: Channel, answer: Answer) -> datetime:
        """Pause after a "too fast": its Retry-After, else doubling pauses; returns when to resume."""
        count = self._refusals[channel.name] = self._refusals.get(channel.name, 0) + 1
        pause = min(self._pause * 2 ** min(count - 1, 10), ROBOT_MUTE)
        if answer.retry_after_s:
            pause = timedelta(seconds=answer.retry_after_s)
        resume: datetime = self._clock.now() + pause
        self.digest_until[channel.name] = resume
        logger.warning("robot %s answered too fast (%d in a row); paused for %s", channel.name, count, pause)
        return resume

    async def _hold(self, channel: Channel, rows: Sequence[ClaimedDelivery], until: datetime) -> None:
        logger.info("robot %s: %d notices wait for the send window (%s)", channel.name, len(rows), until)
        await self._deliveries.release(channel.name, [r.outbox_id for r in rows], until)

    @staticmethod
    def _body(channel: Channel, message: Message) -> dict[str, Any]:
        if message.group is None:
            return channel_body(channel.kind, message.notices[0])
        return digest_body(channel.kind, message.group, list(message.notices))

    @staticmethod
    def _key(message: Message) -> str:
        ids = [n.outbox_id for n in message.notices]
        if not message.is_digest:
            return str(ids[0])
        return f"digest:{min(ids)}-{max(ids)}:{len(ids)}"
