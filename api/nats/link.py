"""The link over NATS JetStream: a node's EventSink, the centre's message stream, and the streams they use.

Layout (docs/deploy.md): each township's leaf server has its own JetStream domain holding

- stream ``GW_<township>`` (file storage, subjects ``gw.<township>.>``): what the township's nodes publish,
  kept while the uplink is down (``RETAIN_S``), deduplicated by ``Nats-Msg-Id`` for ``DUPLICATE_WINDOW_S``;
- object store ``gw_clips_<township>``: clips too big to travel with their message;
- KV bucket ``gw_cmd_<township>``: the commands to its nodes (api/nats/commands.py).

The centre's stream ``GW_CENTRE`` (in the hub's domain) has no subjects of its own: it sources every township
stream, across domains through ``$JS.<domain>.API``, and the centre reads it with the durable pull consumer
``intake``, acking a message only once the intake has committed it (or knows it never can). Redelivery is
therefore normal, and harmless: the store is idempotent by event id (events.id, evidence_once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import (
    ConnectionClosedError,
    ConnectionReconnectingError,
    NoRespondersError,
    StaleConnectionError,
)
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    ExternalStream,
    StorageType,
    StreamConfig,
    StreamSource,
)
from nats.js.errors import (
    APIError,
    BadRequestError,
    NoStreamResponseError,
    NotFoundError,
    ServiceUnavailableError,
)

from api.nats.wire import WireError, decode_message, encode, message_id
from models.link import AnalysisMessage, CameraEventReport, ClipReport, EventReport
from models.store import TRANSIENT_DB_ERRORS, NotFound

logger = logging.getLogger(__name__)

#: The longest uplink outage promised: a township keeps this much of what it published (and the centre's
#: stream too), so a link down for up to 7 days loses nothing.
RETAIN_S = 7 * 24 * 3600.0
#: How long a message id is remembered: a publish retried (or a leaf resent) within it is stored once. Past
#: it the intake's keys (events.id, evidence_once) still refuse the copy; the window only saves the work.
DUPLICATE_WINDOW_S = 24 * 3600.0
#: A township stream's disk budget: about a week of a busy township's events and small clips.
TOWNSHIP_MAX_BYTES = 8 * 1024**3
#: Clips above this go through the object store, the message carrying their name; smaller ones travel with
#: it (a sub-stream clip of 10 s is 100–500 KB; a message under 1 MB keeps the server's default max_payload).
CLIP_INLINE_MAX = 512 * 1024
CENTRE_STREAM = "GW_CENTRE"
INTAKE_CONSUMER = "intake"
#: The header naming a clip left in the township's object store: "<domain>|<bucket>|<object>".
CLIP_HEADER = "Gw-Clip-Object"
#: Redeliveries after which a message whose event is not stored (its START failed for good) is given up.
MAX_NOT_FOUND_DELIVERIES = 10


#: What a leaf restarting answers a publish with: wait and publish again (same Nats-Msg-Id, stored once).
#: Anything else (a message over max_payload, a refused subject) is a bug to raise, not to wait out.
_SERVER_AWAY: tuple[type[BaseException], ...] = (
    NatsTimeout,
    TimeoutError,
    NoRespondersError,
    ConnectionClosedError,
    ConnectionReconnectingError,
    StaleConnectionError,
    NoStreamResponseError,
    ServiceUnavailableError,
    OSError,
)


#: JetStream's error code for a stream whose storage the server cannot reserve (JSInsufficientResourcesErr).
INSUFFICIENT_RESOURCES = 10047


class StreamStorageError(RuntimeError):
    """The NATS server cannot reserve a stream's storage: said with what it needs and what to change."""


def township_stream(township: str) -> str:
    return f"GW_{township}"


def township_subject(township: str, kind: str = ">") -> str:
    return f"gw.{township}.{kind}"


def clip_bucket(township: str) -> str:
    return f"gw_clips_{township}"


@dataclass(frozen=True)
class Township:
    """A township as the centre sees it: its code and its leaf's JetStream domain (None: the same server)."""

    code: str
    domain: str | None = None


async def ensure_township(js: JetStreamContext, township: str) -> None:
    """Create (or keep) the township's stream and clip store in the JetStream ``js`` talks to."""
    config = StreamConfig(
        name=township_stream(township),
        subjects=[township_subject(township)],
        storage=StorageType.FILE,
        max_age=RETAIN_S,
        max_bytes=TOWNSHIP_MAX_BYTES,
        duplicate_window=DUPLICATE_WINDOW_S,
    )
    await _add_or_update(js, config)
    with contextlib.suppress(BadRequestError):
        await js.create_object_store(clip_bucket(township), storage=StorageType.FILE, ttl=RETAIN_S)


async def ensure_centre(js: JetStreamContext, townships: Mapping[str, Township] | list[Township]) -> None:
    """The centre's stream sourcing every township's, and its durable intake consumer."""
    listed = list(townships.values()) if isinstance(townships, Mapping) else list(townships)
    sources = [
        StreamSource(
            name=township_stream(t.code),
            external=ExternalStream(api=f"$JS.{t.domain}.API") if t.domain else None,
        )
        for t in listed
    ]
    config = StreamConfig(
        name=CENTRE_STREAM,
        subjects=[],
        storage=StorageType.FILE,
        max_age=RETAIN_S,
        duplicate_window=DUPLICATE_WINDOW_S,
        sources=sources,
    )
    await _add_or_update(js, config)
    await js.add_consumer(
        CENTRE_STREAM,
        ConsumerConfig(
            durable_name=INTAKE_CONSUMER,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=120.0,
            max_ack_pending=4096,
        ),
    )


async def _add_or_update(js: JetStreamContext, config: StreamConfig) -> None:
    assert config.name is not None
    try:
        try:
            await js.stream_info(config.name)
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)
    except APIError as exc:
        if exc.err_code != INSUFFICIENT_RESOURCES:
            raise
        # NATS says only "insufficient storage resources available": a leaf on a small disk would be
        # taken for one that cannot be reached.
        size = (
            f"{config.max_bytes / 1024**3:.0f} GiB of file storage (a week of a busy township's events)"
            if config.max_bytes and config.max_bytes > 0
            else "file storage"
        )
        raise StreamStorageError(
            f"NATS cannot reserve {size} for stream {config.name}: free that much disk where the server "
            "keeps its JetStream store, or raise the max_file_store of its jetstream block"
        ) from None


class JetStreamSink:
    """A node's EventSink: each message into its township's stream, retried until the leaf has stored it.

    The leaf runs beside the node, so a publish fails only while that server restarts; a retry carries the
    same ``Nats-Msg-Id`` and is stored once. Waiting here holds the camera loops back: nothing is dropped.
    """

    def __init__(
        self,
        js: JetStreamContext,
        township: str,
        *,
        domain: str | None = None,
        clip_inline_max: int = CLIP_INLINE_MAX,
        retry_s: float = 0.5,
    ) -> None:
        self._js = js
        self._township = township
        self._domain = domain
        self._clip_inline_max = clip_inline_max
        self._retry_s = retry_s
        self.published = 0

    async def publish(self, message: AnalysisMessage) -> None:
        headers = {"Nats-Msg-Id": message_id(message)}
        if isinstance(message, ClipReport) and len(message.clip.data) > self._clip_inline_max:
            name = f"{message.event_id}.{message.clip.sha256}"
            bucket, clip = clip_bucket(self._township), message.clip.data
            await self._retrying(lambda: self._put_object(bucket, name, clip))
            headers[CLIP_HEADER] = f"{self._domain or ''}|{bucket}|{name}"
            message = replace(message, clip=replace(message.clip, data=b""))
        data = encode(message)
        kind = type(message).__name__
        await self._retrying(
            lambda: self._js.publish(township_subject(self._township, kind), data, headers=headers)
        )
        self.published += 1

    async def _put_object(self, bucket: str, name: str, data: bytes) -> None:
        store = await self._js.object_store(bucket)
        await store.put(name, data)

    async def _retrying(self, attempt: Callable[[], Awaitable[object]]) -> None:
        while True:
            try:
                await attempt()
                return
            except _SERVER_AWAY as exc:
                logger.warning("publish to township %s stream waits: %s", self._township, exc or type(exc))
            await asyncio.sleep(self._retry_s)


class StreamObserver(Protocol):
    """Who follows the intake per township (api/nats/health.py): what arrived, what was settled, and
    which messages it takes itself instead of the intake."""

    def received(self, msg: Msg) -> None: ...

    def settled(self, msg: Msg) -> None: ...

    def suppress(self, msg: Msg, message: AnalysisMessage) -> bool: ...


class JetStreamIntake:
    """The centre's side: messages from ``GW_CENTRE`` for ``Intake.run_batches``, acked once settled.

    ``batches`` yields each fetch's decoded messages; ``settled`` (Intake.run_batches' hook) acks a stored
    one, or one that can never be stored, and naks with a backoff one that met a restarting database or
    arrived before its event.
    """

    def __init__(
        self,
        nc: NATS,
        js: JetStreamContext,
        *,
        batch: int = 1024,
        fetch_timeout_s: float = 1.0,
        observer: StreamObserver | None = None,
        prefetch: int = 2,
    ) -> None:
        self._nc = nc
        self.observer = observer
        self._js = js
        self._batch = batch
        self._prefetch = prefetch
        self._fetch_timeout_s = fetch_timeout_s
        self._pending: dict[int, tuple[Msg, AnalysisMessage]] = {}
        self._closed = asyncio.Event()
        self.acked = 0
        self.redelivered = 0

    def close(self) -> None:
        """End ``messages`` after the batches fetched (handled and acked); the rest stay for the next run."""
        self._closed.set()

    async def batches(self) -> AsyncIterator[list[AnalysisMessage]]:
        """The decoded messages of each fetch (``Intake.run_batches``); each is settled with ``settled``."""
        subscription = await self._js.pull_subscribe_bind(INTAKE_CONSUMER, CENTRE_STREAM)
        # The next batches are fetched while this one is handled: a fetch is a round trip to the hub, and
        # waiting for it between batches left the writer idle (a third of the time at 1,000 events/s).
        batches: asyncio.Queue[list[Msg] | None] = asyncio.Queue(maxsize=self._prefetch)
        fetcher = asyncio.create_task(self._fetch(subscription, batches), name="intake-fetch")
        try:
            while (batch := await batches.get()) is not None:
                decoded: list[AnalysisMessage] = []
                for msg in batch:
                    message = await self._decode(msg)
                    if message is None:
                        continue
                    if self.observer is not None:
                        self.observer.received(msg)
                        if self.observer.suppress(msg, message):
                            try:
                                await self._ack(msg)
                            except Exception as exc:  # the hub away: redelivered, and folded again
                                logger.warning("ack of a folded %s lost: %s", _describe(message), exc)
                            continue
                    if msg.metadata.num_delivered > 1:
                        self.redelivered += 1
                    self._pending[id(message)] = (msg, message)
                    decoded.append(message)
                if decoded:
                    yield decoded
        finally:
            fetcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fetcher
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _fetch(
        self, subscription: JetStreamContext.PullSubscription, batches: asyncio.Queue[list[Msg] | None]
    ) -> None:
        """Fetch batches into ``batches`` until closed; then None, after what was fetched (it is handled)."""
        while not self._closed.is_set():
            try:
                batch = await subscription.fetch(self._batch, timeout=self._fetch_timeout_s)
            except (NatsTimeout, TimeoutError):
                continue
            except Exception as exc:  # a hub restarting: the client reconnects, the consumer stays
                logger.warning("intake fetch failed, retrying: %s", exc)
                await asyncio.sleep(self._fetch_timeout_s)
                continue
            await batches.put(batch)
        await batches.put(None)

    async def _decode(self, msg: Msg) -> AnalysisMessage | None:
        try:
            message = decode_message(msg.data)
        except WireError as exc:
            logger.error("dropped a message the centre cannot read: %s", exc)
            await msg.term()
            if self.observer is not None:
                self.observer.settled(msg)
            return None
        reference = (msg.headers or {}).get(CLIP_HEADER)
        if reference and isinstance(message, ClipReport):
            domain, bucket, name = reference.split("|", 2)
            try:
                js = self._nc.jetstream(domain=domain) if domain else self._js
                data = (await (await js.object_store(bucket)).get(name)).data or b""
            except Exception as exc:  # the township's link dropped again: fetch it on the redelivery
                logger.warning("clip %s not fetched yet: %s", name, exc)
                await msg.nak(delay=5.0)
                return None
            message = replace(message, clip=replace(message.clip, data=data))
        return message

    async def settled(self, message: AnalysisMessage, error: BaseException | None) -> None:
        entry = self._pending.pop(id(message), None)
        if entry is None or (error is not None and not isinstance(error, Exception)):
            return  # cancelled half-way: neither ack nor nak, ack_wait brings it back to the next intake
        msg = entry[0]
        deliveries = msg.metadata.num_delivered
        retry = isinstance(error, TRANSIENT_DB_ERRORS) or (
            isinstance(error, NotFound) and deliveries < MAX_NOT_FOUND_DELIVERIES
        )
        try:
            if retry:
                await msg.nak(delay=min(2.0**deliveries, 30.0))
            else:
                await self._ack(msg)
        except Exception as exc:  # the hub went away: ack_wait redelivers it, and the store refuses the copy
            logger.warning("ack of %s lost: %s", _describe(message), exc)

    async def _ack(self, msg: Msg) -> None:
        await msg.ack()
        self.acked += 1
        if self.observer is not None:
            self.observer.settled(msg)


def _describe(message: AnalysisMessage) -> str:
    if isinstance(message, EventReport):
        return f"{message.phase.value} of event {message.event.id}"
    if isinstance(message, ClipReport):
        return f"clip of event {message.event_id}"
    if isinstance(message, CameraEventReport):
        return f"camera {message.camera_id}'s own event {message.topic}"
    return f"camera answer {message.watch_id}"
