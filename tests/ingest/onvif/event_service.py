"""A small ONVIF event service on loopback, its replies serialised from the WSDLs onvif-zeep-async ships.

No ONVIF events emulator runs here (the virtual camera has no Events service), so this plays the
camera's part: device service (clock, services), CreatePullPointSubscription, PullMessages, Renew
and Unsubscribe. Subscriptions really lapse: a call after the termination time gets the
ResourceUnknown fault, and ``lapsed`` counts them, so a client that renews late is caught. ``changes`` is
rung on every request it answers, so a test waits for what it expects of the client instead of polling.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import onvif
from aiohttp import web
from lxml import etree
from zeep import Client

from tests.ingest.waiting import Changes

WSDL_DIR = Path(onvif.__file__).parent / "wsdl"
NS_SOAP = "http://www.w3.org/2003/05/soap-envelope"
TOPIC_NAMESPACES = (
    'xmlns:tns1="http://www.onvif.org/ver10/topics" '
    'xmlns:tnsaxis="http://www.axis.com/2009/event/topics" '
    'xmlns:tt="http://www.onvif.org/ver10/schema"'
)
_EVENTS = "{http://www.onvif.org/ver10/events/wsdl}"
_DEVICE = "{http://www.onvif.org/ver10/device/wsdl}"


@dataclass(frozen=True)
class Notification:
    """One camera notification as real cameras shape it: topic, source items, data items."""

    topic: str
    data: dict[str, str]
    source: dict[str, str] = field(default_factory=lambda: {"VideoSourceConfigurationToken": "VSC_1"})
    operation: str = "Changed"
    utc_time: datetime | None = None

    def element(self) -> etree._Element:
        at = (self.utc_time or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        source = "".join(f'<tt:SimpleItem Name="{k}" Value="{v}"/>' for k, v in self.source.items())
        data = "".join(f'<tt:SimpleItem Name="{k}" Value="{v}"/>' for k, v in self.data.items())
        text = (
            f'<tt:Message xmlns:tt="http://www.onvif.org/ver10/schema" UtcTime="{at}" '
            f'PropertyOperation="{self.operation}"><tt:Source>{source}</tt:Source>'
            f"<tt:Data>{data}</tt:Data></tt:Message>"
        )
        return etree.fromstring(text)


@dataclass
class Subscription:
    number: int
    terminates: datetime
    queue: asyncio.Queue[Notification] = field(default_factory=asyncio.Queue)


def _duration_s(text: str | None, default: float) -> float:
    if not text:
        return default
    match = re.fullmatch(r"PT(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?", text.strip())
    if match:
        return int(match.group(1) or 0) * 60 + float(match.group(2) or 0)
    try:
        absolute = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return default
    return (absolute - datetime.now(UTC)).total_seconds()


class EventService:
    def __init__(
        self,
        *,
        max_subscription_s: float | None = None,
        offers_events: bool = True,
        pullpoint_support: bool | None = None,
    ) -> None:
        self.max_subscription_s = max_subscription_s
        #: False: GetServices lists no Events service, as the virtual camera in peers/ answers.
        self.offers_events = offers_events
        #: What GetServiceCapabilities says of WSPullPointSupport; None: the call is not implemented.
        self.pullpoint_support = pullpoint_support
        self.subscriptions: dict[int, Subscription] = {}
        self.renewals = 0
        self.lapsed = 0
        self.pulls = 0
        #: The subscription number of each PullMessages, in arrival order.
        self.pulled: list[int] = []
        self.changes = Changes()
        self.port = 0
        self._numbers = itertools.count(1)
        self._runner: web.AppRunner | None = None
        device = Client(str(WSDL_DIR / "devicemgmt.wsdl"))
        events = Client(str(WSDL_DIR / "events.wsdl"))
        self._device = device.wsdl.bindings[f"{_DEVICE}DeviceBinding"]
        self._events = events.wsdl.bindings[f"{_EVENTS}EventBinding"]
        self._pullpoint = events.wsdl.bindings[f"{_EVENTS}PullPointSubscriptionBinding"]
        self._manager = events.wsdl.bindings[f"{_EVENTS}SubscriptionManagerBinding"]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> None:
        """Listen on ``port`` (0: any free one); after stop(), start(service.port) is the device back."""
        app = web.Application()
        app.router.add_post("/onvif/device_service", self._device_service)
        app.router.add_post("/onvif/events", self._event_service)
        app.router.add_post("/onvif/subscription/{number}", self._subscription_service)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def publish(self, notifications: Sequence[Notification]) -> None:
        for subscription in self.subscriptions.values():
            for notification in notifications:
                subscription.queue.put_nowait(notification)

    # -- SOAP plumbing ------------------------------------------------------------------------------

    @staticmethod
    async def _operation(request: web.Request) -> tuple[str, etree._Element]:
        root = etree.fromstring(await request.read())
        body = root.find(f"{{{NS_SOAP}}}Body")
        assert body is not None and len(body), "SOAP request without a body"
        operation = body[0]
        return etree.QName(operation).localname, operation

    @staticmethod
    def _reply(binding: object, operation: str, **values: object) -> web.Response:
        envelope = binding.get(operation).output.serialize(**values).content  # type: ignore[attr-defined]
        text = etree.tostring(envelope, encoding="unicode")
        # Real cameras declare the topic prefixes on the envelope; topics are QNames in element text.
        declaration = f'xmlns:soap-env="{NS_SOAP}"'
        text = text.replace(declaration, f"{declaration} {TOPIC_NAMESPACES}", 1)
        return web.Response(text=text, content_type="application/soap+xml")

    @staticmethod
    def _fault(reason: str, subcode: str = "ter:InvalidArgVal") -> web.Response:
        text = (
            f'<s:Envelope xmlns:s="{NS_SOAP}" xmlns:ter="http://www.onvif.org/ver10/error" '
            'xmlns:wsrf-rw="http://docs.oasis-open.org/wsrf/rw-2">'
            "<s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value>"
            f"<s:Subcode><s:Value>{subcode}</s:Value></s:Subcode></s:Code>"
            f'<s:Reason><s:Text xml:lang="en">{reason}</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>'
        )
        return web.Response(status=400, text=text, content_type="application/soap+xml")

    # -- services -----------------------------------------------------------------------------------

    async def _device_service(self, request: web.Request) -> web.Response:
        name, _ = await self._operation(request)
        if name == "GetSystemDateAndTime":
            now = datetime.now(UTC)
            utc = {
                "Date": {"Year": now.year, "Month": now.month, "Day": now.day},
                "Time": {"Hour": now.hour, "Minute": now.minute, "Second": now.second},
            }
            info = {"DateTimeType": "NTP", "DaylightSavings": False, "UTCDateTime": utc}
            return self._reply(self._device, name, SystemDateAndTime=info)
        if name == "GetServices":
            services = [
                {"Namespace": "http://www.onvif.org/ver10/device/wsdl",
                 "XAddr": f"{self.base}/onvif/device_service", "Version": {"Major": 2, "Minor": 60}},
            ]  # fmt: skip
            if self.offers_events:
                events = {
                    "Namespace": "http://www.onvif.org/ver10/events/wsdl",
                    "XAddr": f"{self.base}/onvif/events",
                }
                services.append({**events, "Version": {"Major": 2, "Minor": 60}})
            return self._reply(self._device, name, Service=services)
        return self._fault(f"{name} is not implemented by the test event service", "ter:ActionNotSupported")

    def _grant(self, requested: str | None) -> float:
        seconds = _duration_s(requested, 60.0)
        return min(seconds, self.max_subscription_s) if self.max_subscription_s else seconds

    async def _event_service(self, request: web.Request) -> web.Response:
        name, operation = await self._operation(request)
        if name == "GetServiceCapabilities" and self.pullpoint_support is not None:
            capabilities = {
                "WSPullPointSupport": self.pullpoint_support,
                "WSSubscriptionPolicySupport": False,
            }
            return self._reply(self._events, name, Capabilities=capabilities)
        if name != "CreatePullPointSubscription":
            return self._fault(f"{name} is not implemented", "ter:ActionNotSupported")
        requested = operation.findtext(f"{_EVENTS}InitialTerminationTime")
        now = datetime.now(UTC)
        number = next(self._numbers)
        subscription = Subscription(number, now + timedelta(seconds=self._grant(requested)))
        self.subscriptions[number] = subscription
        self.changes.ring()
        reference = {"Address": {"_value_1": f"{self.base}/onvif/subscription/{number}"}}
        return self._reply(
            self._events, name, SubscriptionReference=reference, CurrentTime=now,
            TerminationTime=subscription.terminates,
        )  # fmt: skip

    async def _subscription_service(self, request: web.Request) -> web.Response:
        name, operation = await self._operation(request)
        subscription = self.subscriptions.get(int(request.match_info["number"]))
        now = datetime.now(UTC)
        if subscription is None:
            return self._fault("no such subscription", "wsrf-rw:ResourceUnknownFault")
        if now > subscription.terminates:
            self.lapsed += 1
            del self.subscriptions[subscription.number]
            self.changes.ring()
            return self._fault("the subscription has lapsed", "wsrf-rw:ResourceUnknownFault")
        if name == "PullMessages":
            self.pulls += 1
            self.pulled.append(subscription.number)
            self.changes.ring()
            timeout = _duration_s(operation.findtext(f"{_EVENTS}Timeout"), 1.0)
            limit = int(operation.findtext(f"{_EVENTS}MessageLimit") or 100)
            messages = await self._drain(subscription, min(timeout, 10.0), limit)
            holders = [
                {"Topic": {"_value_1": m.topic,
                           "Dialect": "http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet"},
                 "Message": {"_value_1": m.element()}}
                for m in messages
            ]  # fmt: skip
            return self._reply(
                self._pullpoint, name, CurrentTime=datetime.now(UTC), TerminationTime=subscription.terminates,
                NotificationMessage=holders,
            )  # fmt: skip
        if name == "Renew":
            self.renewals += 1
            requested = operation.findtext("{http://docs.oasis-open.org/wsn/b-2}TerminationTime")
            subscription.terminates = now + timedelta(seconds=self._grant(requested))
            self.changes.ring()
            return self._reply(self._manager, name, TerminationTime=subscription.terminates, CurrentTime=now)
        if name == "Unsubscribe":
            del self.subscriptions[subscription.number]
            self.changes.ring()
            return self._reply(self._manager, name)
        return self._fault(f"{name} is not implemented", "ter:ActionNotSupported")

    @staticmethod
    async def _drain(subscription: Subscription, timeout_s: float, limit: int) -> list[Notification]:
        messages: list[Notification] = []
        try:
            messages.append(await asyncio.wait_for(subscription.queue.get(), timeout_s))
        except TimeoutError:
            return messages
        while len(messages) < limit and not subscription.queue.empty():
            messages.append(subscription.queue.get_nowait())
        return messages
