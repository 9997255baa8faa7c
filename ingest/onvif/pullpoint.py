"""PullPoint event subscription: subscribe, pull, renew before the lapse, resubscribe after a loss.

Why not the library's PullPointManager: it renews no sooner than after 48 s (a 60 s floor times 0.8)
and reports a lost subscription through a bare callback; we need the renewal margin configurable
(tests use seconds, sites minutes) and every failure logged with the camera it concerns.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from onvif import ONVIFCamera
from onvif.util import normalize_url

from ingest.onvif.errors import CALL_ERRORS, classify
from ingest.onvif.events import CameraEvent, EventParser, raw_from_zeep
from ingest.onvif.models import Credentials, DeviceTarget
from models.clock import Clock

logger = logging.getLogger(__name__)

NS_PULLPOINT_SUBSCRIPTION = "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription"
NS_EVENTS = "http://www.onvif.org/ver10/events/wsdl"

EventSink = Callable[[CameraEvent], Awaitable[None] | None]


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _iso_duration(seconds: float) -> str:
    return f"PT{max(1, int(seconds))}S"


class SubscriptionState(enum.StrEnum):
    STARTING = "starting"
    SUBSCRIBED = "subscribed"
    #: The camera has no Events service, or says it offers no PullPoint: normal, nothing to retry.
    NO_EVENTS = "no_events"
    #: The last subscription failed or was lost; retried with backoff (``last_error`` says why).
    BROKEN = "broken"


class PullPointSubscriber:
    """Keeps one camera's PullPoint subscription alive and hands every parsed event to ``sink``.

    Renewal is due at ``renew_at`` (a fraction) of the time the camera granted, measured from when
    its answer arrived, so a slow answer cannot push the renewal past the lapse. A failure retries after
    ``retry_s``, doubling on each failure in a row up to ``retry_max_s``.
    """

    def __init__(
        self,
        camera_id: str,
        target: DeviceTarget,
        credentials: Credentials | None,
        sink: EventSink,
        clock: Clock,
        *,
        subscription_s: float = 60.0,
        renew_at: float = 0.6,
        pull_timeout_s: float = 5.0,
        message_limit: int = 100,
        retry_s: float = 5.0,
        retry_max_s: float = 300.0,
        parser: EventParser | None = None,
    ) -> None:
        if not 0 < renew_at < 1:
            raise ValueError(f"renew_at must be between 0 and 1, got {renew_at}")
        if subscription_s <= 0 or pull_timeout_s <= 0 or retry_s <= 0:
            raise ValueError("subscription_s, pull_timeout_s and retry_s must be positive")
        self.camera_id = camera_id
        self.target = target
        self._credentials = credentials
        self._sink = sink
        self._clock = clock
        self.subscription_s = subscription_s
        self.renew_at = renew_at
        self.pull_timeout_s = pull_timeout_s
        self.message_limit = message_limit
        self.retry_s = retry_s
        self.retry_max_s = max(retry_max_s, retry_s)
        self.parser = parser or EventParser(camera_id)
        self.state = SubscriptionState.STARTING
        #: Failures since the last subscription that worked; sets the backoff.
        self.failures = 0
        self.subscriptions = 0
        self.renewals = 0
        self.events = 0
        #: Why the last subscription ended or could not start (credential-free).
        self.last_error: str | None = None
        self._renew_due = 0.0  # monotonic
        self._camera: ONVIFCamera | None = None
        self._pullpoint: Any = None
        self._manager: Any = None

    async def run(self) -> None:
        """Subscribe and pull until cancelled; failures resubscribe after retry_s, never raise."""
        try:
            while True:
                try:
                    await self._subscribe()
                    await self._pull_loop()
                except _NoEvents as none:
                    self.state = SubscriptionState.NO_EVENTS
                    self.last_error = None
                    logger.info("camera %s: no event subscription: %s", self.camera_id, none.reason)
                    return
                except _Lost as lost:
                    self._failed(lost.reason)
                    logger.warning("camera %s: event subscription lost: %s", self.camera_id, lost.reason)
                except Exception as exc:
                    # A library or firmware surprise must cost one subscription, never the camera's task.
                    self._failed(f"{type(exc).__name__}: {exc}")
                    logger.exception("camera %s: event subscription failed unexpectedly", self.camera_id)
                await self._close_camera()
                await asyncio.sleep(self.backoff_s)
        finally:
            await self._close_camera()

    def _failed(self, reason: str) -> None:
        self.last_error = reason
        self.state = SubscriptionState.BROKEN
        self.failures += 1

    @property
    def backoff_s(self) -> float:
        """How long to wait before the next attempt after ``failures`` failures in a row."""
        return min(self.retry_s * 2.0 ** max(self.failures - 1, 0), self.retry_max_s)

    async def _call(self, step: str, call: Awaitable[Any]) -> Any:
        try:
            return await asyncio.wait_for(call, self.pull_timeout_s + 10)
        except CALL_ERRORS as exc:
            raise _Lost(str(classify(exc, step))) from None

    async def _subscribe(self) -> None:
        # Without credentials the library still signs with an empty token; None would crash it.
        user = self._credentials.user if self._credentials else ""
        password = self._credentials.password if self._credentials else ""
        self._camera = camera = ONVIFCamera(self.target.host, self.target.port, user, password)
        await self._call("GetServices", camera.update_xaddrs())
        if not camera.xaddrs:
            # The library swallows a failed GetServices; an empty answer means the device was not heard.
            raise _Lost("the device service did not list its services")
        if NS_EVENTS not in camera.xaddrs:
            raise _NoEvents("the device has no Events service")
        events = await self._call("events service", camera.create_events_service())
        await self._check_pullpoint_support(events)
        request = {"InitialTerminationTime": _iso_duration(self.subscription_s)}
        answer = await self._call("CreatePullPointSubscription", events.CreatePullPointSubscription(request))
        address = normalize_url(answer.SubscriptionReference.Address._value_1)
        camera.xaddrs[NS_PULLPOINT_SUBSCRIPTION] = address
        self._pullpoint = await self._call("pullpoint service", camera.create_pullpoint_service())
        self._manager = await self._call(
            "subscription service", camera.create_subscription_service("PullPointSubscription")
        )
        self.subscriptions += 1
        self.failures = 0
        self.state = SubscriptionState.SUBSCRIBED
        self._schedule_renewal(answer)
        logger.info("camera %s: subscribed to events (%s)", self.camera_id, self.target.address)

    async def _check_pullpoint_support(self, events: Any) -> None:
        """A camera whose capabilities say no PullPoint has none; one that will not say is tried anyway."""
        try:
            capabilities = await asyncio.wait_for(events.GetServiceCapabilities(), self.pull_timeout_s + 10)
        except CALL_ERRORS:
            return
        if getattr(capabilities, "WSPullPointSupport", None) is False:
            raise _NoEvents("the Events service offers no PullPoint subscription")

    def _schedule_renewal(self, answer: Any) -> None:
        granted = self.subscription_s
        current, termination = getattr(answer, "CurrentTime", None), getattr(answer, "TerminationTime", None)
        if isinstance(current, datetime) and isinstance(termination, datetime):
            # Both times come from the camera's clock, so their difference is immune to clock skew.
            granted = (termination - current).total_seconds()
        self._renew_due = time.monotonic() + max(granted, 0.0) * self.renew_at

    async def _renew(self) -> None:
        answer = await self._call(
            "Renew", self._manager.Renew({"TerminationTime": _iso_duration(self.subscription_s)})
        )
        self.renewals += 1
        self._schedule_renewal(answer)
        logger.debug("camera %s: event subscription renewed", self.camera_id)

    async def _pull_loop(self) -> None:
        while True:
            if time.monotonic() >= self._renew_due:
                await self._renew()
            # Never hold a pull open past the renewal point: the subscription would lapse meanwhile.
            wait_s = min(self.pull_timeout_s, max(self._renew_due - time.monotonic(), 0.5))
            answer = await self._call(
                "PullMessages",
                self._pullpoint.PullMessages(
                    {"Timeout": timedelta(seconds=wait_s), "MessageLimit": self.message_limit}
                ),
            )
            for message in getattr(answer, "NotificationMessage", None) or []:
                await self._deliver(message)

    async def _deliver(self, message: Any) -> None:
        try:
            raw = raw_from_zeep(message, _parse_time)
        except (ValueError, AttributeError, TypeError) as exc:
            logger.warning("camera %s: unreadable event notification: %s", self.camera_id, exc)
            return
        event = self.parser.parse(raw, self._clock.now())
        if event is None:
            return
        self.events += 1
        try:
            result = self._sink(event)
            if result is not None:
                await result
        except Exception:
            # The consumer's bug must not end the camera's subscription.
            logger.exception("camera %s: event sink failed on %s", self.camera_id, event.topic)

    async def _close_camera(self) -> None:
        camera, self._camera = self._camera, None
        if camera is None:
            return
        manager, self._manager = self._manager, None
        try:
            if manager is not None:
                await asyncio.wait_for(manager.Unsubscribe(), 2)
        except CALL_ERRORS:
            # Best effort: the subscription expires on the camera by itself.
            logger.debug("camera %s: unsubscribe failed", self.camera_id)
        finally:
            await camera.close()


class _Lost(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _NoEvents(_Lost):
    """The camera offers no events: not a failure, and nothing to retry."""
