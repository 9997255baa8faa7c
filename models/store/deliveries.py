"""Per-channel delivery of the outbox (webhook, WeCom, DingTalk): leases, attempts, results."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.store.base import Repository


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """An outbox row leased to one channel for one attempt."""

    outbox_id: int
    incident_id: uuid.UUID
    attempts: int
    topic: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    channel: str
    outbox_id: int
    incident_id: uuid.UUID | None
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    failed_at: datetime | None
    via_digest: bool
    last_error: str | None
    #: Settled without a message: the channel does not announce this change (migration 0019).
    skipped: bool = False


class DeliveryRepository(Repository):
    async def register_channels(self, names: Sequence[str]) -> None:
        """Make each channel receive the outbox rows written from now on (an outbox trigger fans out)."""
        await self.pool.executemany(
            "INSERT INTO delivery_channels (name) VALUES ($1)"
            " ON CONFLICT (name) DO UPDATE SET enabled = true",
            [(n,) for n in names],
        )

    async def claim(
        self,
        channel: str,
        now: datetime,
        *,
        lease_s: float = 60.0,
        limit: int = 20,
        oldest_per_incident: bool = True,
    ) -> list[ClaimedDelivery]:
        """Lease the next pending deliveries of a channel: at most one per incident, its oldest.

        Holding back an incident's later rows until its earlier one is delivered (or given up) keeps
        each incident's notifications in order while other incidents proceed. The lease (moving
        next_attempt_at) keeps a second worker off a row while its HTTP request is in flight; a
        worker that dies mid-request lets the lease lapse and the row is sent again with the same key.
        A digest merges an incident's notices into one message, so it takes them all at once.
        """
        rows = await self.pool.fetch(
            "UPDATE deliveries d SET next_attempt_at = $2 + make_interval(secs => $3)"
            " FROM (SELECT p.channel, p.outbox_id FROM deliveries p"
            "  WHERE p.channel = $1 AND p.delivered_at IS NULL AND p.failed_at IS NULL"
            "  AND p.next_attempt_at <= $2 AND (NOT $5 OR NOT EXISTS (SELECT 1 FROM deliveries e"
            "   WHERE e.channel = p.channel AND e.incident_id = p.incident_id AND e.outbox_id < p.outbox_id"
            "   AND e.delivered_at IS NULL AND e.failed_at IS NULL))"
            "  ORDER BY p.outbox_id LIMIT $4 FOR UPDATE SKIP LOCKED) c, outbox o"
            " WHERE d.channel = c.channel AND d.outbox_id = c.outbox_id AND o.id = d.outbox_id"
            " RETURNING d.outbox_id, d.incident_id, d.attempts, o.topic, o.payload, o.created_at",
            channel,
            now,
            lease_s,
            limit,
            oldest_per_incident,
        )
        claimed = [ClaimedDelivery(**dict(r)) for r in rows]
        return sorted(claimed, key=lambda d: d.outbox_id)

    async def finish(
        self,
        channel: str,
        outbox_ids: Sequence[int],
        *,
        delivered_at: datetime | None = None,
        retry_at: datetime | None = None,
        failed_at: datetime | None = None,
        error: str | None = None,
        via_digest: bool = False,
    ) -> None:
        """Record one attempt's result: delivered, to be retried at `retry_at`, or given up."""
        await self.pool.execute(
            "UPDATE deliveries SET attempts = attempts + 1, delivered_at = $3, failed_at = $5,"
            " next_attempt_at = COALESCE($4, next_attempt_at), last_error = $6, via_digest = $7"
            " WHERE channel = $1 AND outbox_id = ANY($2) AND delivered_at IS NULL",
            channel,
            list(outbox_ids),
            delivered_at,
            retry_at,
            failed_at,
            error,
            via_digest,
        )

    async def release(
        self, channel: str, outbox_ids: Sequence[int], retry_at: datetime, error: str | None = None
    ) -> None:
        """Hand leased rows back unsent, due at ``retry_at``; not an attempt: a limit held them, no fault."""
        await self.pool.execute(
            "UPDATE deliveries SET next_attempt_at = $3, last_error = COALESCE($4, last_error)"
            " WHERE channel = $1 AND outbox_id = ANY($2) AND delivered_at IS NULL",
            channel,
            list(outbox_ids),
            retry_at,
            error,
        )

    async def skip(self, channel: str, outbox_ids: Sequence[int], at: datetime) -> None:
        """Settle rows the channel does not announce: done, with no message sent."""
        await self.pool.execute(
            "UPDATE deliveries SET delivered_at = $3, skipped = true"
            " WHERE channel = $1 AND outbox_id = ANY($2) AND delivered_at IS NULL",
            channel,
            list(outbox_ids),
            at,
        )

    async def sent_since(self, channel: str, since: datetime) -> list[datetime]:
        """When the channel's messages since ``since`` went out, oldest first: one time per row sent on its
        own, one per settling time of digest rows (a digest settles all its rows at once); rows passed over
        were no message."""
        rows = await self.pool.fetch(
            "SELECT delivered_at FROM deliveries WHERE channel = $1 AND delivered_at > $2"
            " AND NOT skipped AND NOT via_digest"
            " UNION ALL SELECT DISTINCT delivered_at FROM deliveries WHERE channel = $1 AND delivered_at > $2"
            " AND NOT skipped AND via_digest ORDER BY delivered_at",
            channel,
            since,
        )
        return [r["delivered_at"] for r in rows]

    async def of_channel(self, channel: str) -> list[DeliveryRecord]:
        rows = await self.pool.fetch(
            "SELECT * FROM deliveries WHERE channel = $1 ORDER BY outbox_id", channel
        )
        return [DeliveryRecord(**dict(r)) for r in rows]
