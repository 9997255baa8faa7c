"""The cameras' own events on the analysis side: one PullPoint subscription per ONVIF camera that offers them.

The node starts a camera's subscription with the camera and stops it with the camera. What a subscription
hears crosses to the centre as ``CameraEventReport`` (models/link.py); only topics the site's table maps
are forwarded, so a busy camera's motion chatter stays on the camera's side. A camera without events is
normal (logged once by the subscriber); a broken subscription is retried with backoff and shows as a
health reason in the camera's status, never as a failure of the camera's analysis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from ingest.onvif.events import CameraEvent, EventParser
from ingest.onvif.models import Credentials, DeviceTarget
from ingest.onvif.pullpoint import PullPointSubscriber, SubscriptionState
from models.camera_events import CameraEventTable
from models.clock import Clock
from models.link import CameraEventReport, EventSink
from models.records import Camera, OnvifEndpoint

logger = logging.getLogger(__name__)


class CameraEventFeed:
    """Subscriptions by camera id; ``options`` go to each PullPointSubscriber (renewal, timeouts, backoff).

    ``environ`` fills the ``${VAR}`` of each endpoint's password at the moment of subscribing.
    """

    def __init__(
        self,
        sink: EventSink,
        clock: Clock,
        table: CameraEventTable,
        environ: Mapping[str, str],
        **options: Any,
    ) -> None:
        self._sink = sink
        self._clock = clock
        self.table = table
        self._environ = environ
        self._options = options
        self.subscribers: dict[str, PullPointSubscriber] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        #: Why a camera's subscription could not even be built (a missing password variable).
        self._unstarted: dict[str, str] = {}

    def start(self, camera: Camera) -> None:
        """Subscribe to the camera's events if its record names an ONVIF endpoint (site file, onboarding)."""
        camera_id, endpoint = camera.id, camera.onvif
        if endpoint is None or not endpoint.events or camera_id in self._tasks:
            return
        try:
            credentials = self._credentials(endpoint)
        except KeyError as exc:
            self._unstarted[camera_id] = str(exc.args[0])
            logger.error("camera %s: events not subscribed: %s", camera_id, exc.args[0])
            return
        parser = EventParser(camera_id, state_item=self.table.state_item)
        subscriber = PullPointSubscriber(
            camera_id,
            DeviceTarget(endpoint.host, endpoint.port, camera_id),
            credentials,
            self._forward,
            self._clock,
            parser=parser,
            **self._options,
        )
        self.subscribers[camera_id] = subscriber
        self._tasks[camera_id] = asyncio.create_task(subscriber.run(), name=f"camera-events:{camera_id}")

    def _credentials(self, endpoint: OnvifEndpoint) -> Credentials | None:
        if endpoint.user is None:
            return None
        name = endpoint.password_env
        if name is None:
            return Credentials(endpoint.user, "")
        if name not in self._environ:
            raise KeyError(f"environment variable {name} is not set (needed by the camera's ONVIF login)")
        return Credentials(endpoint.user, self._environ[name], name)

    async def _forward(self, event: CameraEvent) -> None:
        if self.table.lookup(event.topic) is None:
            return
        # When the analysis role heard it, not the camera's own clock: camera clocks drift by hours.
        report = CameraEventReport(
            event.camera_id,
            event.topic,
            event.active,
            self._clock.now(),
            dict(event.source),
            dict(event.data),
        )
        await self._sink.publish(report)

    async def stop(self, camera_id: str) -> None:
        self._unstarted.pop(camera_id, None)
        self.subscribers.pop(camera_id, None)
        task = self._tasks.pop(camera_id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def aclose(self) -> None:
        for camera_id in list(self._tasks):
            await self.stop(camera_id)

    def status(self, camera_id: str) -> dict[str, Any] | None:
        """The subscription's state for the camera's status; None for a camera with no ONVIF endpoint."""
        if camera_id in self._unstarted:
            return {"state": str(SubscriptionState.BROKEN), "reason": self._unstarted[camera_id]}
        subscriber = self.subscribers.get(camera_id)
        if subscriber is None:
            return None
        return {
            "state": str(subscriber.state),
            "reason": subscriber.last_error if subscriber.state is SubscriptionState.BROKEN else None,
            "subscriptions": subscriber.subscriptions,
            "renewals": subscriber.renewals,
            "events": subscriber.events,
        }
