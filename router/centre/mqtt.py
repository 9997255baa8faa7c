"""The outbox → MQTT relay: every incident change and event published at least once, in order per incident.

The broker is one more delivery channel (``mqtt:<prefix>``): the outbox fan-out trigger gives it a
``deliveries`` row in the transaction of each change, so a change made while the broker is down, or while
this process is down, waits in PostgreSQL until it is published. A row is finished only after the broker
acknowledged (PUBACK) every message of it; a connection lost in between sends it again with the same ``id``
in the payload, which subscribers deduplicate on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from models.clock import Clock
from models.store import Store
from models.store.deliveries import ClaimedDelivery, DeliveryRepository
from models.store.events import EventRepository
from models.store.incidents import IncidentRepository
from router.notify.mqtt import EventSummary, MqttMessage, incident_messages
from router.notify.retry import backoff

logger = logging.getLogger(__name__)


class MqttPublisher(Protocol):
    """The broker connection (api/mqtt.py)."""

    @property
    def connected(self) -> bool: ...

    async def publish(self, messages: Sequence[MqttMessage]) -> None:
        """Return once the broker acknowledged every message; raise if it did not."""


class MqttRelay:
    def __init__(
        self,
        store: Store,
        publisher: MqttPublisher,
        clock: Clock,
        *,
        prefix: str = "gridwatch",
        lease_s: float = 60.0,
        poll_s: float = 1.0,
        batch: int = 100,
        base_delay: timedelta = timedelta(seconds=1),
        max_delay: timedelta = timedelta(seconds=30),
    ) -> None:
        self._deliveries: DeliveryRepository = store.deliveries
        self._incidents: IncidentRepository = store.incidents
        self._events: EventRepository = store.events
        self._publisher = publisher
        self._clock = clock
        self.prefix = prefix
        #: The deliveries channel: one per prefix, so two brokers (or prefixes) keep their own progress.
        self.channel = f"mqtt:{prefix}"
        self._lease_s = lease_s
        self._poll_s = poll_s
        self._batch = batch
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._failures = 0
        self._wakeup = asyncio.Event()
        self._registered = False
        self.published = 0

    def wake(self) -> None:
        self._wakeup.set()

    async def register(self) -> None:
        """From now on every outbox row gets a delivery for this channel (before the first change to keep)."""
        await self._deliveries.register_channels([self.channel])
        self._registered = True

    async def run(self) -> None:
        while True:
            try:
                await self.deliver_once()
            except Exception:  # a database outage must not end publishing
                logger.exception("MQTT relay failed; retrying")
                self._failures += 1
            wait = self._poll_s
            if self._failures:
                wait = backoff(self._failures, self._base_delay, self._max_delay).total_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), wait)
            self._wakeup.clear()

    async def deliver_once(self) -> int:
        """Publish what is pending while the broker is connected; returns how many rows were finished."""
        if not self._registered:
            await self.register()
        done = 0
        while self._publisher.connected:
            rows = await self._deliveries.claim(
                self.channel, self._clock.now(), lease_s=self._lease_s, limit=self._batch
            )
            if not rows:
                break
            sent = await self._publish(rows)
            done += sent
            if sent < len(rows):
                break
        return done

    async def _publish(self, rows: Sequence[ClaimedDelivery]) -> int:
        published: list[int] = []
        try:
            for row in rows:
                await self._publisher.publish(await self._messages(row))
                published.append(row.outbox_id)
        except Exception as exc:
            self._failures += 1
            # Due again at once: the relay waits for the connection (or its backoff), not the row.
            rest = [r.outbox_id for r in rows if r.outbox_id not in set(published)]
            logger.warning("MQTT publish failed (%s); %d rows wait", type(exc).__name__, len(rest))
            await self._deliveries.finish(self.channel, rest, retry_at=self._clock.now(), error=str(exc))
        else:
            self._failures = 0
        if published:
            await self._deliveries.finish(self.channel, published, delivered_at=self._clock.now())
        self.published += len(published)
        return len(published)

    async def _messages(self, row: ClaimedDelivery) -> list[MqttMessage]:
        incident = await self._incidents.get(row.incident_id)
        event = None
        event_id = row.payload.get("event_id")
        if isinstance(event_id, str):
            event = await self._event(uuid.UUID(event_id))
        return incident_messages(
            self.prefix, row.outbox_id, row.topic, row.payload, row.created_at, incident, event
        )

    async def _event(self, event_id: uuid.UUID) -> EventSummary | None:
        found = await self._events.summary(event_id)
        if found is None:
            return None
        return EventSummary(
            id=str(found["id"]),
            kind=str(found["kind"]),
            camera_id=str(found["camera_id"]),
            zone_name=found["zone_name"],
            started_at=found["started_at"],
            confidence=float(found["confidence"]),
            person_count=found["person_count"],
        )
