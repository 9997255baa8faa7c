"""The centre role: intake, the outbox to the feed, robots and MQTT, deadlines, casework, rosters,
retention, and the worker that owns them (``Centre``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.link import InProcessLink
from api.mqtt import CameraStates, MqttLink, MqttSettings
from models.camera_events import CameraEventTable
from models.clock import Clock, SystemClock
from models.link import CommandSink
from models.records import EventKind
from models.store import Store
from router.centre.bell import OutboxBell
from router.centre.casework import Casework
from router.centre.escalator import Escalator
from router.centre.false_alarms import FalseAlarms
from router.centre.feed import Broadcaster, OutboxRelay
from router.centre.intake import Intake
from router.centre.mqtt import MqttRelay
from router.centre.notifier import Notifier
from router.centre.registry import CameraRegistry
from router.centre.retention import Retention, StorageGuard, free_space_of
from router.centre.robots import RobotNotifier
from router.centre.rosters import Handover, RosterDesk, RosterWatch
from router.centre.routing import Routing
from router.centre.verifier import Verifier
from router.centre.writer import EventWriter
from router.deadlines import DEFAULT_POLICY, DeadlinePolicy
from router.notify.channels import Channel
from router.notify.robots import ROBOT_KINDS
from router.policies import Policies
from router.retention import DEFAULT_RETENTION, RetentionPolicy
from router.verification import CLEAR_WINDOWS

if TYPE_CHECKING:  # serve and demo never load the NATS client: build_node and build_county_centre import it
    from api.nats.link import JetStreamIntake

logger = logging.getLogger(__name__)


@dataclass
class Centre:
    """The centre role: intake of events, the store's outbox to the feed and the chat robots, deadlines."""

    store: Store
    routing: Routing
    writer: EventWriter
    intake: Intake
    broadcaster: Broadcaster
    relay: OutboxRelay
    escalator: Escalator
    notifier: Notifier | None
    casework: Casework
    registry: CameraRegistry
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _intake: asyncio.Task[None] | None = None
    #: Camera-verified closure of resolved cases (router/centre/verifier.py).
    verifier: Verifier | None = None
    #: The centre's time: what the KPIs judge open deadlines against.
    clock: Clock = field(default_factory=SystemClock)
    #: Live rosters: reloads what any process changed; moves waiting cases at a shift's end; the API's desk.
    roster_watch: RosterWatch | None = None
    handover: Handover | None = None
    rosters: RosterDesk | None = None
    #: Evidence retention and the free-space watch that pauses clips (router/centre/retention.py).
    retention: Retention | None = None
    #: Incidents, events and availability to an MQTT broker (api/mqtt.py, router/centre/mqtt.py).
    mqtt_link: MqttLink | None = None
    mqtt_relay: MqttRelay | None = None
    #: WeCom and DingTalk group robots within their limits (router/centre/robots.py); notifier has the rest.
    robots: RobotNotifier | None = None

    async def start(self, *, workers: bool = True) -> None:
        """Load the site into the router; with ``workers``, start the feed relay, escalator and notifier."""
        await self.routing.load()
        self.writer.start()
        if workers:
            self._spawn(self.relay.run(), "outbox-relay")
            self._spawn(self.escalator.run(), "escalator")
            if self.notifier is not None:
                self._spawn(self.notifier.run(), "notifier")
            if self.verifier is not None:
                self._spawn(self.verifier.run(), "verifier")
            if self.roster_watch is not None:
                self._spawn(self.roster_watch.run(), "roster-watch")
            if self.handover is not None:
                self._spawn(self.handover.run(), "handover")
            if self.retention is not None:
                self._spawn(self.retention.run(), "retention")
            if self.robots is not None:
                self._spawn(self.robots.run(), "robots")
            if self.mqtt_link is not None and self.mqtt_relay is not None:
                await self.mqtt_relay.register()  # before the intake runs: no change may miss the broker
                self._spawn(self.mqtt_link.run(), "mqtt-link")
                self._spawn(self.mqtt_relay.run(), "mqtt-relay")

    def consume(self, link: InProcessLink) -> None:
        """Take the analysis role's messages from an in-process link until it closes."""
        self._intake = asyncio.create_task(
            self.intake.run_batches(link.batches(), settled=link.settled), name="intake"
        )

    def consume_stream(self, stream: JetStreamIntake) -> None:
        """Take the nodes' messages from the county's JetStream stream, acking each once it is settled."""
        self._intake = asyncio.create_task(
            self.intake.run_batches(stream.batches(), settled=stream.settled),
            name="intake",
        )

    async def stop(self) -> None:
        """Stop the workers; intake first drains what its link still holds (close the link before)."""
        if self._intake is not None:
            await asyncio.gather(self._intake, return_exceptions=True)
            self._intake = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.writer.aclose()
        if self.notifier is not None:
            await self.notifier.aclose()
        if self.robots is not None:
            await self.robots.aclose()

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(work, name=name))


def build_centre(
    store: Store,
    clock: Clock,
    analysis: CommandSink,
    *,
    timezone: str = "Asia/Shanghai",
    channels: Sequence[Channel] = (),
    policy: DeadlinePolicy = DEFAULT_POLICY,
    policies: Policies | None = None,
    clear_windows: Mapping[EventKind, timedelta] = CLEAR_WINDOWS,
    roster_recheck_s: float = 30.0,
    handover_every_s: float = 30.0,
    camera_events: CameraEventTable | None = None,
    retention: RetentionPolicy = DEFAULT_RETENTION,
    storage_dir: Path | None = None,
    mqtt: MqttSettings | None = None,
    camera_states: CameraStates | None = None,
) -> Centre:
    """``policies`` (the site file's) supplies triage, deadlines, filing, dedup cell and snap distance.
    ``storage_dir``: where the embedded database lives, whose free space decides whether clips are kept."""
    if policies is not None:
        policy = policies.deadlines
        clear_windows = policies.clear_windows
    bell = OutboxBell()
    routing = Routing(store, timezone=timezone, policy=policy, policies=policies)
    writer = EventWriter(store.events)
    broadcaster = Broadcaster()
    relay = OutboxRelay(store.outbox, store.incidents, broadcaster)
    bell.listen(relay.wake)
    hooks = [c for c in channels if c.kind not in ROBOT_KINDS]
    notifier = Notifier(store.deliveries, store.incidents, clock, hooks) if hooks else None
    if notifier is not None:
        bell.listen(notifier.wake)
    bots = [c for c in channels if c.kind in ROBOT_KINDS]
    robots = RobotNotifier(store.deliveries, store.incidents, clock, bots) if bots else None
    if robots is not None:
        bell.listen(robots.wake)
    intake = Intake(routing, writer, store, bell, camera_events=camera_events or CameraEventTable())
    casework = Casework(store, clock, bell, routing, policy=policy)
    # The camera verifies what people resolve: resolutions go out as WatchZone, answers come back by intake.
    verifier = Verifier(store, clock, casework, analysis, windows=clear_windows)
    casework.on_resolved(verifier.resolved)
    intake.zone_reports = verifier.report
    # A fire/smoke case rejected as a false alarm silences its region on its camera (SuppressRegion).
    casework.on_rejected(FalseAlarms(store, clock, analysis, policies=policies).rejected)
    guard = StorageGuard()
    keeper = Retention(store, clock, retention, guard, free_space_of(storage_dir))
    intake.storage, intake.on_disk_full = guard, keeper.disk_full
    mqtt_link: MqttLink | None = None
    mqtt_relay: MqttRelay | None = None
    if mqtt is not None:
        mqtt_link = MqttLink(mqtt, cameras=camera_states)
        mqtt_relay = MqttRelay(store, mqtt_link, clock, prefix=mqtt.prefix)
        bell.listen(mqtt_relay.wake)
        mqtt_link.on_connect(mqtt_relay.wake)
    return Centre(
        store=store,
        routing=routing,
        writer=writer,
        intake=intake,
        broadcaster=broadcaster,
        relay=relay,
        escalator=Escalator(store.timers, clock, routing.roster, bell, policy=policy),
        notifier=notifier,
        casework=casework,
        registry=CameraRegistry(store, routing, analysis),
        verifier=verifier,
        clock=clock,
        roster_watch=RosterWatch(store, routing, recheck_s=roster_recheck_s),
        handover=Handover(store, casework, routing, clock, poll_s=handover_every_s),
        rosters=RosterDesk(store, routing),
        retention=keeper,
        mqtt_link=mqtt_link,
        mqtt_relay=mqtt_relay,
        robots=robots,
    )
