"""The county link's health: nodes' heartbeats, township link state, stream lag and clock skew.

A node publishes a ``NodeHeartbeat`` every few seconds on the plain subject ``gwhealth.<township>.<node>``
(not the stream: an old heartbeat says nothing worth keeping, and its absence is the signal). Its leaf
carries it over the leafnode connection to the hub, where the centre's ``LinkMonitor`` hears it.

The monitor also probes each township's own server every ``probe_s`` through the township's JetStream domain
(``$JS.<domain>.API``, the path the centre's stream sources through): an answer is the link up, with its
round trip (half of it the latency estimate the skew is corrected by) and the township stream's last
sequence; no answer for ``down_after_s`` is the link down. The intake reports every message's township
sequence (the ``Nats-Stream-Source`` header of a sourced message), so the lag is the township's last sequence
less the last the centre handled.

A township going down opens ONE link problem (``on_down``); camera-offline reports published while it was
down, held in the township's stream and arriving with its backlog, are folded into it (``suppress``) instead
of opening an incident each, since the cut, not each camera, is what someone must go and fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.errors import NotFoundError

from api.health import NodeLoad
from api.nats.link import CENTRE_STREAM, INTAKE_CONSUMER, Township, township_stream
from api.nats.wire import WireError, decode_heartbeat, encode
from detect.analysis.node import AnalysisNode
from models.camera_events import CameraEventTable, EventAction
from models.clock import Clock
from models.link import AnalysisMessage, CameraEventReport, EventReport, NodeHeartbeat
from models.link_health import NodeHealth, TownshipHealth
from models.records import Event, EventKind, EventPhase
from router.centre.links import LinkProblems

logger = logging.getLogger(__name__)

HEALTH_SUBJECT = "gwhealth"
HEARTBEAT_S = 5.0
PROBE_S = 2.0
DOWN_AFTER_S = 10.0
SKEW_FLAG_S = 2.0
#: A node not heard for this long is dropped from the table (a restarted node comes back under a new id).
NODE_FORGET_S = 3600.0
#: Heartbeats whose skew estimates are kept: the one that travelled fastest is the best estimate.
SKEW_SAMPLES = 8

LinkChange = Callable[[str, datetime], Awaitable[object]]


def heartbeat_subject(township: str, node_id: str) -> str:
    # A subject token cannot hold dots or spaces; a host name may.
    token = "".join(c if c.isalnum() or c in "-_" else "_" for c in node_id) or "node"
    return f"{HEALTH_SUBJECT}.{township}.{token}"


def source_position(msg: Msg) -> tuple[str, int] | None:
    """(township, sequence in the township's stream) of a message the centre's stream sourced."""
    parts = msg.subject.split(".")
    header = (msg.headers or {}).get("Nats-Stream-Source", "")
    fields = header.split()
    if len(parts) < 3 or parts[0] != "gw" or len(fields) < 2 or not fields[1].isdigit():
        return None
    return parts[1], int(fields[1])


class HeartbeatPublisher:
    """A node's heartbeat, every ``every_s``, on its township's health subject."""

    def __init__(
        self,
        nc: NATS,
        analysis: AnalysisNode,
        clock: Clock,
        node_id: str,
        township: str,
        *,
        every_s: float | None = None,
    ) -> None:
        self._nc = nc
        self._load = NodeLoad(analysis)
        self._clock = clock
        self.node_id = node_id
        self.township = township
        self._every_s = every_s or HEARTBEAT_S
        self._task: asyncio.Task[None] | None = None
        self._subject = heartbeat_subject(township, node_id)
        self.sent = 0

    async def beat(self) -> NodeHeartbeat:
        heartbeat = self._load.heartbeat(self.node_id, self.township, self._clock, self._every_s)
        await self._nc.publish(self._subject, encode(heartbeat))
        self.sent += 1
        return heartbeat

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="node-heartbeat")

    async def stop(self) -> None:
        await _cancel(self._task)
        self._task = None

    async def run(self) -> None:
        while True:
            try:
                await self.beat()
            except Exception as exc:  # the leaf restarting: the next beat goes when it is back
                logger.debug("heartbeat not sent: %s", exc)
            await asyncio.sleep(self._every_s)


@dataclass
class _Node:
    heartbeat: NodeHeartbeat
    received_at: datetime
    heard: float
    #: sent_at − received_at of recent heartbeats, seconds.
    offsets: deque[float] = field(default_factory=lambda: deque(maxlen=SKEW_SAMPLES))


@dataclass
class _Township:
    township: Township
    since: datetime
    #: Monotonic time of the last answer (or of the start, before the first).
    answered: float
    up: bool = True
    rtt_s: float | None = None
    last_seq: int = 0
    #: Township messages not yet copied into the centre's stream (its source's lag).
    source_lag: int = 0
    #: The highest township sequence the intake has settled (None: none since this centre started).
    handled: int | None = None
    received_at: float | None = None
    caught_up_at: float | None = None
    #: The township sequences published while its link was down: (after, up to; None while still down).
    outage: tuple[int, int | None] | None = None
    folded: int = 0
    #: The first folded camera-offline event of each camera, until the backlog has drained.
    folded_events: dict[str, Event] = field(default_factory=dict)
    #: Monotonic time the link last came up.
    up_at: float | None = None
    #: Whether the backlog of the last outage has been handled.
    drained: bool = False
    nodes: dict[str, _Node] = field(default_factory=dict)


class LinkMonitor:
    """The centre's view of every township's link and nodes (a ``LinkHealth`` for the API and /metrics)."""

    def __init__(
        self,
        nc: NATS,
        townships: Sequence[Township],
        clock: Clock,
        problems: LinkProblems | None = None,
        *,
        probe_s: float = PROBE_S,
        down_after_s: float = DOWN_AFTER_S,
        skew_flag_s: float = SKEW_FLAG_S,
        camera_events: CameraEventTable | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._nc = nc
        self._clock = clock
        self._probe_s = probe_s
        self._down_after_s = down_after_s
        self.skew_flag_s = skew_flag_s
        #: Where a link going down or coming back, and a camera still dark after it, are reported.
        self.problems = problems
        self.camera_events = camera_events
        self._task: asyncio.Task[None] | None = None
        self._monotonic = monotonic
        started = clock.now()
        self._townships = {t.code: _Township(t, since=started, answered=monotonic()) for t in townships}
        self._subscription: Subscription | None = None
        self._consumer_idle = False
        self._consumer_pending = 0
        self._hub_away = False

    # --- what the intake tells it -------------------------------------------------------------------

    def received(self, msg: Msg) -> None:
        position = source_position(msg)
        state = self._townships.get(position[0]) if position else None
        if state is not None:
            state.received_at = self._monotonic()

    def settled(self, msg: Msg) -> None:
        position = source_position(msg)
        state = self._townships.get(position[0]) if position else None
        if state is not None and position is not None:
            state.handled = max(state.handled or 0, position[1])

    def suppress(self, msg: Msg, message: AnalysisMessage) -> bool:
        """Whether ``message`` is a camera-offline report of a township whose link is (or was, when it was
        published) down: folded into the link problem, not an incident of its own."""
        event = self._offline(message)
        if event is None:
            return False
        position = source_position(msg)
        state = self._townships.get(position[0]) if position else None
        if state is None or position is None:
            return False
        seq = position[1]
        during = state.outage is not None and (
            state.outage[0] < seq and (state.outage[1] is None or seq <= state.outage[1])
        )
        if state.up and not during:
            return False
        state.folded += 1
        state.folded_events.setdefault(event.camera_id, event)
        logger.info(
            "camera %s offline while township %s's link was down: folded into the link problem",
            event.camera_id,
            state.township.code,
        )
        return True

    def _offline(self, message: AnalysisMessage) -> Event | None:
        """The camera-offline event ``message`` reports: the offline watch's, or the camera's own video loss
        as the site's camera_events table maps it (router/centre/camera_events.py opens the same)."""
        if isinstance(message, EventReport):
            start = message.phase is EventPhase.START
            return message.event if start and message.event.kind is EventKind.CAMERA_OFFLINE else None
        if isinstance(message, CameraEventReport) and message.active and self.camera_events is not None:
            rule = self.camera_events.lookup(message.topic)
            if rule is not None and rule.action is EventAction.OPEN and rule.kind is EventKind.CAMERA_OFFLINE:
                return Event(EventKind.CAMERA_OFFLINE, message.camera_id, None, message.at, 1.0)
        return None

    # --- running ------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._subscription = await self._nc.subscribe(f"{HEALTH_SUBJECT}.>", cb=self._heard)
        self._task = asyncio.create_task(self.run(), name="link-monitor")

    async def stop(self) -> None:
        await _cancel(self._task)
        self._task = None
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
            self._subscription = None

    async def run(self) -> None:
        while True:
            try:
                await self.probe()
            except Exception:  # one failed round must not end the watch
                logger.exception("link probe failed")
            await asyncio.sleep(self._probe_s)

    async def _heard(self, msg: Msg) -> None:
        try:
            heartbeat = decode_heartbeat(msg.data)
        except WireError as exc:
            logger.warning("unreadable heartbeat on %s: %s", msg.subject, exc)
            return
        state = self._townships.get(heartbeat.township)
        if state is None:
            return
        received_at = self._clock.now()
        node = state.nodes.get(heartbeat.node_id)
        if node is None:
            node = state.nodes[heartbeat.node_id] = _Node(heartbeat, received_at, self._monotonic())
        node.heartbeat, node.received_at, node.heard = heartbeat, received_at, self._monotonic()
        node.offsets.append((heartbeat.sent_at - received_at).total_seconds())

    async def probe(self) -> None:
        """One round: the centre's own stream and consumer, then every township's server at once."""
        try:
            js = self._nc.jetstream(timeout=self._probe_s)
            consumer = await js.consumer_info(CENTRE_STREAM, INTAKE_CONSUMER)
            self._consumer_pending = (consumer.num_pending or 0) + (consumer.num_ack_pending or 0)
            self._consumer_idle = self._consumer_pending == 0
            centre = await js.stream_info(CENTRE_STREAM)
            lags = {source.name: source.lag for source in centre.sources or ()}
            for state in self._townships.values():
                state.source_lag = lags.get(township_stream(state.township.code), 0) or 0
        except Exception as exc:
            # The hub itself is away: the centre sees no township, which says nothing of their links (not
            # twenty link cases for one restart). Their silence counts only from when the hub answers again.
            if not self._hub_away:
                logger.warning(
                    "the hub does not answer, township links unknown: %s", exc or type(exc).__name__
                )
            self._hub_away = True
            for state in self._townships.values():
                state.answered = self._monotonic()
            return
        self._hub_away = False
        await asyncio.gather(*(self._probe(state) for state in self._townships.values()))
        now = self._monotonic()
        for state in self._townships.values():
            if state.handled is None and self._consumer_idle and state.up and state.source_lag == 0:
                state.handled = state.last_seq  # nothing waits in the stream: all of it was handled before
            if state.up and self._lag(state) == 0:
                state.caught_up_at = now
                await self._page_still_down(state)
            forget = [n for n, node in state.nodes.items() if now - node.heard > NODE_FORGET_S]
            for node_id in forget:
                del state.nodes[node_id]

    async def _probe(self, state: _Township) -> None:
        township = state.township
        js = self._nc.jetstream(domain=township.domain, timeout=min(self._probe_s, 5.0))
        began = self._monotonic()
        try:
            info = await js.stream_info(township_stream(township.code))
            last_seq = info.state.last_seq
        except NotFoundError:
            last_seq = 0  # the township's server answered: no node has made its stream yet
        except Exception as exc:
            if state.up and self._monotonic() - state.answered >= self._down_after_s:
                await self._went_down(state, exc)
            return
        state.answered = self._monotonic()
        state.rtt_s = state.answered - began
        state.last_seq = last_seq
        if not state.up:
            await self._came_up(state)

    async def _page_still_down(self, state: _Township) -> None:
        """The backlog has drained: the case says how the outage ended, and a folded camera that a node,
        heard since the link came back, still reports down was down for its own reasons too, so it is paged
        now, from its outage's start."""
        if state.outage is not None and state.outage[1] is not None and not state.drained:
            state.drained = True
            if self.problems is not None:
                try:
                    await self.problems.drained(state.township.code, self._clock.now(), state.folded)
                except Exception:  # the database away: the link is up all the same
                    logger.exception("township %s: link restored, not logged", state.township.code)
        if not state.folded_events or state.up_at is None:
            return
        fresh = [node for node in state.nodes.values() if node.heard > state.up_at]
        if not fresh:
            return  # no node heard since the link came back: ask again next round
        down = {camera for node in fresh for camera in node.heartbeat.cameras_down}
        events, state.folded_events = state.folded_events, {}
        for camera_id, event in sorted(events.items()):
            if camera_id in down and self.problems is not None:
                logger.info(
                    "camera %s still down after township %s's link came back", camera_id, state.township.code
                )
                try:
                    await self.problems.still_down(event)
                except Exception:  # the database away: the camera's next outage report will page it
                    logger.exception("camera %s: offline not routed", camera_id)

    async def _went_down(self, state: _Township, exc: BaseException) -> None:
        state.up = False
        state.since = self._clock.now()
        state.outage = (state.last_seq, None)
        state.drained, state.folded = False, 0
        logger.warning("township %s: link down (%s)", state.township.code, exc or type(exc).__name__)
        await self._tell(self.problems.down if self.problems else None, state)

    async def _came_up(self, state: _Township) -> None:
        state.up = True
        state.up_at = self._monotonic()
        state.since = self._clock.now()
        if state.outage is not None:
            state.outage = (state.outage[0], state.last_seq)
        logger.info("township %s: link up, %d messages to catch up", state.township.code, self._lag(state))
        await self._tell(self.problems.up if self.problems else None, state)

    async def _tell(self, hook: LinkChange | None, state: _Township) -> None:
        if hook is None:
            return
        try:
            await hook(state.township.code, state.since)
        except Exception:  # the database away: the state change stands, the problem waits for the next
            logger.exception("township %s: link problem not recorded", state.township.code)

    # --- the read model -----------------------------------------------------------------------------

    def _lag(self, state: _Township) -> int:
        if state.handled is None:
            # Nothing handled since this centre started: what the stream holds for the county is the bound.
            return state.source_lag + self._consumer_pending
        return max(0, state.last_seq - state.handled)

    def townships(self) -> list[TownshipHealth]:
        now = self._monotonic()
        rows = []
        for code in sorted(self._townships):
            state = self._townships[code]
            lag = self._lag(state)
            caught_up = state.caught_up_at if state.caught_up_at is not None else state.answered
            latency = (state.rtt_s or 0.0) / 2
            nodes = tuple(self._node(node, now, latency) for _, node in sorted(state.nodes.items()))
            rows.append(
                TownshipHealth(
                    code=code,
                    link_up=state.up,
                    since=state.since,
                    lag_messages=lag,
                    lag_s=0.0 if state.up and lag == 0 else round(max(0.0, now - caught_up), 3),
                    last_message_age_s=(
                        round(now - state.received_at, 3) if state.received_at is not None else None
                    ),
                    rtt_s=round(state.rtt_s, 4) if state.rtt_s is not None else None,
                    offline_folded=state.folded,
                    nodes=nodes,
                )
            )
        return rows

    def _node(self, node: _Node, now: float, latency: float) -> NodeHealth:
        beat = node.heartbeat
        # The heartbeat that travelled fastest says most about the clocks: every delay only adds to it.
        skew = max(node.offsets) + latency
        return NodeHealth(
            node_id=beat.node_id,
            township=beat.township,
            cameras=beat.cameras,
            cameras_down=len(beat.cameras_down),
            analysed_fps=beat.analysed_fps,
            load=beat.load,
            last_seen=node.received_at,
            age_s=round(now - node.heard, 3),
            skew_s=round(skew, 3),
            skewed=abs(skew) > self.skew_flag_s,
            stale=now - node.heard > 3 * beat.every_s,
        )


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
