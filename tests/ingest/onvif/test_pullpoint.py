"""PullPointSubscriber against the in-suite event service, replaying real cameras' notifications."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from ingest.onvif.events import CameraEvent, CameraEventKind
from ingest.onvif.models import Credentials, DeviceTarget
from ingest.onvif.pullpoint import PullPointSubscriber, SubscriptionState
from models.clock import SystemClock
from tests.ingest.onvif.event_service import EventService, Notification
from tests.ingest.waiting import Changes, wait_until

CANARY = "canary-Events-5d1e77"

#: Shapes taken from real devices: Hikvision/Dahua MotionAlarm, the ONVIF profile-S cell motion rule,
#: Hikvision's scene-change tamper, the ONVIF tamper rule, an Axis VMD vendor topic, a Reolink
#: people rule, and a topic nobody maps (Dahua's audio alarm).
REPLAY = [
    Notification("tns1:VideoSource/MotionAlarm", {"State": "true"}),
    Notification(
        "tns1:RuleEngine/CellMotionDetector/Motion",
        {"IsMotion": "true"},
        source={
            "VideoSourceConfigurationToken": "VSC_1",
            "VideoAnalyticsConfigurationToken": "VAC_1",
            "Rule": "MyMotionDetectorRule",
        },
    ),
    Notification("tns1:VideoSource/GlobalSceneChange/ImagingService", {"State": "true"}),
    Notification("tns1:RuleEngine/TamperDetector/Tamper", {"IsTamper": "false"}),
    Notification("tnsaxis:CameraApplicationPlatform/VMD/Camera1Profile1", {"active": "1"}, source={}),
    Notification("tns1:RuleEngine/MyRuleDetector/PeopleDetect", {"State": "true"}, source={"Source": "000"}),
    Notification("tns1:AudioAnalytics/Audio/DetectedSound", {"IsSoundDetected": "true"}),
    Notification("tns1:VideoSource/MotionAlarm", {"State": "false"}),
]


@pytest.fixture
async def event_service() -> AsyncIterator[EventService]:
    service = EventService(max_subscription_s=2)
    await service.start()
    yield service
    await service.stop()


class Received(list[CameraEvent]):
    """A subscriber's sink that keeps its events and rings ``changes`` for each."""

    def __init__(self, changes: Changes) -> None:
        super().__init__()
        self._changes = changes

    def __call__(self, event: CameraEvent) -> None:
        self.append(event)
        self._changes.ring()


async def run_subscriber(subscriber: PullPointSubscriber) -> asyncio.Task[None]:
    return asyncio.create_task(subscriber.run())


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.wait([task])
    assert task.cancelled(), task.exception()


async def test_camera_notifications_become_events_and_unknown_topics_are_logged_once(
    event_service: EventService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    changes = event_service.changes
    received = Received(changes)
    subscriber = PullPointSubscriber(
        "cam-ev", DeviceTarget("127.0.0.1", event_service.port), Credentials("admin", CANARY),
        received, SystemClock(), subscription_s=2, pull_timeout_s=1,
    )  # fmt: skip
    task = await run_subscriber(subscriber)
    try:
        assert await changes.until(lambda: bool(event_service.subscriptions), 10)
        event_service.publish(REPLAY)
        event_service.publish(REPLAY[-2:])  # the unknown topic again
        assert await changes.until(lambda: len(received) >= 8, 10), received
    finally:
        await stop(task)

    kinds = [(e.kind, e.topic, e.active, e.label) for e in received[:7]]
    assert kinds == [
        (CameraEventKind.MOTION, "tns1:VideoSource/MotionAlarm", True, None),
        (CameraEventKind.MOTION, "tns1:RuleEngine/CellMotionDetector/Motion", True, None),
        (CameraEventKind.TAMPER, "tns1:VideoSource/GlobalSceneChange/ImagingService", True, None),
        (CameraEventKind.TAMPER, "tns1:RuleEngine/TamperDetector/Tamper", False, None),
        (CameraEventKind.MOTION, "tnsaxis:CameraApplicationPlatform/VMD/Camera1Profile1", True, "axis_vmd"),
        (CameraEventKind.ANALYTICS, "tns1:RuleEngine/MyRuleDetector/PeopleDetect", True, "person"),
        (CameraEventKind.MOTION, "tns1:VideoSource/MotionAlarm", False, None),
    ]
    assert received[1].source["Rule"] == "MyMotionDetectorRule"
    assert all(e.camera_id == "cam-ev" and e.at.tzinfo is not None for e in received)
    unknown = [r for r in caplog.records if "unknown event topic" in r.getMessage()]
    assert len(unknown) == 1 and "tns1:AudioAnalytics/Audio/DetectedSound" in unknown[0].getMessage()
    assert subscriber.parser.unknown_topics == {"tns1:AudioAnalytics/Audio/DetectedSound"}
    assert CANARY not in caplog.text


async def test_renews_before_the_subscription_lapses(event_service: EventService) -> None:
    changes = event_service.changes
    received = Received(changes)
    subscriber = PullPointSubscriber(
        "cam-ev", DeviceTarget("127.0.0.1", event_service.port), None, received, SystemClock(),
        subscription_s=2, pull_timeout_s=1,
    )  # fmt: skip
    task = await run_subscriber(subscriber)
    try:
        # Three 2-second grants renewed: one renewed late would have lapsed (ResourceUnknown) first.
        assert await changes.until(lambda: event_service.renewals >= 3 or event_service.lapsed > 0, 15)
        event_service.publish(REPLAY[:1])
        assert await changes.until(lambda: len(received) == 1, 5)
    finally:
        await stop(task)
    assert event_service.lapsed == 0
    assert subscriber.subscriptions == 1, subscriber.last_error
    assert subscriber.renewals >= 3 and event_service.renewals == subscriber.renewals


async def test_a_broken_sink_and_malformed_messages_never_end_the_subscription(
    event_service: EventService,
) -> None:
    changes = event_service.changes
    received: list[CameraEvent] = []

    def sink(event: CameraEvent) -> None:
        received.append(event)
        changes.ring()
        if len(received) == 1:
            raise RuntimeError("consumer bug")

    subscriber = PullPointSubscriber(
        "cam-ev", DeviceTarget("127.0.0.1", event_service.port), None, sink, SystemClock(),
        subscription_s=5, pull_timeout_s=1,
    )  # fmt: skip
    task = await run_subscriber(subscriber)
    try:
        assert await changes.until(lambda: bool(event_service.subscriptions), 10)
        event_service.publish(
            [
                Notification("tns1:VideoSource/MotionAlarm", {"State": "true"}),
                Notification("tns1:VideoSource/MotionAlarm", {}),  # no State item
                Notification("tns1:VideoSource/MotionAlarm", {"State": "false"}),
            ]
        )
        assert await changes.until(lambda: len(received) == 2, 10)
    finally:
        await stop(task)
    assert [e.active for e in received] == [True, False]
    assert subscriber.subscriptions == 1


async def test_a_vanished_camera_is_resubscribed(event_service: EventService) -> None:
    subscriber = PullPointSubscriber(
        "cam-ev", DeviceTarget("127.0.0.1", event_service.port), None, lambda e: None, SystemClock(),
        subscription_s=5, pull_timeout_s=1, retry_s=0.2,
    )  # fmt: skip
    changes = event_service.changes
    task = await run_subscriber(subscriber)
    try:
        # The subscriber pulls from a subscription only once it has counted it.
        assert await changes.until(lambda: 1 in event_service.pulled, 10)
        assert subscriber.subscriptions == 1
        event_service.subscriptions.clear()  # the camera rebooted and forgot us
        assert await changes.until(lambda: 2 in event_service.pulled, 10)
        assert subscriber.subscriptions == 2
    finally:
        await stop(task)
    assert subscriber.last_error is not None and "no such subscription" in subscriber.last_error


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"offers_events": False}, "the device has no Events service"),
        ({"pullpoint_support": False}, "offers no PullPoint subscription"),
    ],
)
async def test_a_camera_without_events_is_normal_and_said_once(
    options: dict[str, bool], reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    service = EventService(**options)
    await service.start()
    subscriber = PullPointSubscriber(
        "cam-plain", DeviceTarget("127.0.0.1", service.port), None, lambda e: None, SystemClock(),
        retry_s=0.1,
    )  # fmt: skip
    try:
        # run() ends by itself: nothing to retry on a camera that has no events.
        await asyncio.wait_for(subscriber.run(), 10)
    finally:
        await service.stop()
    assert subscriber.state is SubscriptionState.NO_EVENTS
    assert subscriber.last_error is None and subscriber.failures == 0 and service.subscriptions == {}
    said = [r for r in caplog.records if "no event subscription" in r.getMessage()]
    assert len(said) == 1 and reason in said[0].getMessage() and said[0].levelno == logging.INFO


async def test_a_device_that_goes_away_is_retried_with_backoff_and_recovers(
    event_service: EventService,
) -> None:
    subscriber = PullPointSubscriber(
        "cam-ev", DeviceTarget("127.0.0.1", event_service.port), None, lambda e: None, SystemClock(),
        subscription_s=5, pull_timeout_s=1, retry_s=0.1, retry_max_s=0.4,
    )  # fmt: skip
    changes = event_service.changes
    task = await run_subscriber(subscriber)
    try:
        assert await changes.until(lambda: subscriber.state is SubscriptionState.SUBSCRIBED, 10)
        await event_service.stop()  # the device goes away
        assert await wait_until(lambda: subscriber.failures >= 4, 15)
        assert subscriber.state is SubscriptionState.BROKEN
        assert subscriber.last_error is not None and subscriber.last_error.startswith("unreachable at ")
        # Doubling from 0.1 s, capped at 0.4 s.
        assert subscriber.backoff_s == 0.4
        await event_service.start(event_service.port)  # and comes back
        assert await changes.until(lambda: subscriber.state is SubscriptionState.SUBSCRIBED, 10)
    finally:
        await stop(task)
    assert subscriber.failures == 0 and subscriber.subscriptions == 2
