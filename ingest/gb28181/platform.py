"""The higher platform that devices and lower platforms register with (GB/T 28181 §9.1, §9.3, §9.4, §9.6).

A device REGISTERs with digest authentication (401 challenge, then its Authorization checked against the
configured password), keeps alive with a MESSAGE every ``keepalive_s`` and is offline after
``max_missed`` intervals without one, or when its registration expires. Each new registration is followed
by a Catalog query; the pages of the answer (devices send one item per MESSAGE as often as all of them in
one) are gathered by SN until SumNum items are in, then handed to the listener. Alarms are answered 200
and handed on. Ids outside the configured prefixes are refused with 403.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from ingest.gb28181 import digest, manscdp
from ingest.gb28181.sip import SipError, SipMessage, new_tag, param, response, uri_user
from ingest.gb28181.transport import Peer, SipEndpoint
from models.config.gb28181 import Gb28181Section
from models.gb28181 import GB_ID, Alarm, CatalogItem, GbDevice, GbListener, is_camera

logger = logging.getLogger(__name__)

#: How long an alarm waits for its device's catalog after a registration.
CATALOG_WAIT_S = 10.0

#: CmdTypes the platform hears and has nothing to do with (answered 200); any other is 501.
QUIET_CMD_TYPES = frozenset(
    {
        "DeviceInfo",
        "DeviceStatus",
        "MobilePosition",
        "MediaStatus",
        "RecordInfo",
        "ConfigDownload",
        "PresetQuery",
    }
)


@dataclass
class Device:
    id: str
    peer: Peer
    registered_at: datetime
    expires_at: float
    last_seen: float
    online: bool = True
    last_keepalive_at: datetime | None = None
    channels: dict[str, CatalogItem] = field(default_factory=dict)
    #: Catalog pages being gathered, by SN.
    pages: dict[int, dict[str, CatalogItem]] = field(default_factory=dict)
    #: Set once the catalog asked for at registration is in (or will not come): alarms wait for it, since
    #: devices raise them at once and an alarm's channel must be known to find its camera.
    catalog_ready: asyncio.Event = field(default_factory=asyncio.Event)
    alarms: asyncio.Lock = field(default_factory=asyncio.Lock)


class Quiet:
    """A listener that does nothing, for a platform nobody listens to yet."""

    async def registered(self, device: GbDevice) -> None: ...
    async def refused(self, device_id: str, address: str, reason: str) -> None: ...
    async def keepalive(self, device_id: str, at: datetime) -> None: ...
    async def offline(self, device_id: str, reason: str) -> None: ...
    async def catalog(self, device_id: str, items: list[CatalogItem]) -> None: ...
    async def alarm(self, device_id: str, alarm: Alarm) -> None: ...


@dataclass(frozen=True)
class PlatformSettings:
    platform_id: str
    domain: str
    realm: str
    #: Device ids must start with one of these; empty: any 20-digit id.
    prefixes: tuple[str, ...] = ()
    keepalive_s: float = 60.0
    max_missed: int = 3
    min_expires_s: int = 60
    max_expires_s: int = 86400
    timezone: str = "Asia/Shanghai"

    @classmethod
    def of(cls, config: Gb28181Section, timezone: str) -> PlatformSettings:
        return cls(
            platform_id=config.platform_id,
            domain=config.domain,
            realm=config.realm or config.domain,
            prefixes=tuple(config.device_prefixes),
            keepalive_s=config.keepalive_s,
            max_missed=config.offline_after_missed,
            timezone=timezone,
        )

    @staticmethod
    def endpoint(config: Gb28181Section, port: int, transport: str | None = None) -> dict[str, Any]:
        """The SipEndpoint options: the site's listen address and transports, or the one ``transport``."""
        kinds = {transport.lower()} if transport is not None else set(config.transports)
        return {
            "host": config.host,
            "port": port,
            "udp": "udp" in kinds,
            "tcp": "tcp" in kinds,
            "advertise": config.advertise,
        }


class GbPlatform:
    def __init__(
        self,
        settings: PlatformSettings,
        password_for: Callable[[str], str | None],
        listener: GbListener | None = None,
        **endpoint_options: Any,
    ) -> None:
        self.settings = settings
        self._password_for = password_for
        self.listener: GbListener = listener or Quiet()
        self.endpoint = SipEndpoint(self.handle, **endpoint_options)
        self.devices: dict[str, Device] = {}
        self._nonces = digest.Nonces()
        self._sn = itertools.count(1)
        self._tz: tzinfo = ZoneInfo(settings.timezone)
        self._watch: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: Unknown CmdTypes, each logged once.
        self.unknown_cmd_types: set[str] = set()

    async def start(self) -> None:
        await self.endpoint.start()
        self._watch = asyncio.create_task(self._watch_keepalives(), name="gb28181-keepalive-watch")

    async def stop(self) -> None:
        tasks = [t for t in (self._watch, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.endpoint.stop()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def handle(self, request: SipMessage, peer: Peer) -> SipMessage | None:
        if request.method == "REGISTER":
            return await self._register(request, peer)
        if request.method in ("MESSAGE", "NOTIFY"):
            return await self._message(request, peer)
        if request.method == "OPTIONS":
            return response(request, 200)
        raise SipError(501, f"{request.method} is not served here")

    def _admit(self, device_id: str) -> None:
        if GB_ID.fullmatch(device_id) is None:
            raise SipError(400, f"{device_id[:24]!r} is not a 20-digit GB/T 28181 id")
        prefixes = self.settings.prefixes
        if prefixes and not device_id.startswith(prefixes):
            raise SipError(403, f"device {device_id} is outside the configured prefixes")

    async def _register(self, request: SipMessage, peer: Peer) -> SipMessage:
        device_id = uri_user(request.header("from") or "")
        self._admit(device_id)
        authorization = request.header("authorization")
        params = digest.parse_params(authorization) if authorization else {}
        if not params or not self._nonces.fresh(params.get("nonce", "")):
            answer = response(request, 401)
            answer.add("www-authenticate", self._nonces.challenge(self.settings.realm))
            return answer
        password = self._password_for(device_id)
        if (
            params.get("username") != device_id
            or password is None
            or not digest.verify(params, password, "REGISTER")
        ):
            logger.warning("gb28181: device %s from %s refused: wrong password", device_id, peer)
            self._spawn(self.listener.refused(device_id, str(peer), "wrong password"))
            return response(request, 403, "Forbidden (wrong password)")
        expires = self._expires(request)
        answer = response(request, 200)
        answer.add("date", datetime.now(self._tz).strftime("%Y-%m-%dT%H:%M:%S.000"))
        answer.add("expires", str(expires))
        if request.header("contact"):
            answer.add("contact", request.header("contact") or "")
        now = time.monotonic()
        known = self.devices.get(device_id)
        if expires == 0:
            if known is not None and known.online:
                known.online = False
                self._spawn(self.listener.offline(known.id, "unregistered"))
            return answer
        refresh = known is not None and known.online and now <= known.expires_at and known.peer == peer
        if refresh and known is not None:
            # A refresh before expiry: same device, same place; its catalog is not asked for again.
            known.expires_at, known.last_seen = now + expires, now
            self._spawn(self.listener.registered(self.snapshot(known)))
            return answer
        device = Device(device_id, peer, datetime.now(UTC), now + expires, now)
        if known is not None:
            device.channels = known.channels
            device.last_keepalive_at = known.last_keepalive_at
        self.devices[device_id] = device
        logger.info("gb28181: device %s registered from %s for %d s", device_id, peer, expires)
        self._spawn(self._registered(device))
        return answer

    async def _registered(self, device: Device) -> None:
        await self.listener.registered(self.snapshot(device))
        if not await self.query_catalog(device.id):
            device.catalog_ready.set()

    def _expires(self, request: SipMessage) -> int:
        text = request.header("expires") or param(request.header("contact") or "", "expires") or "3600"
        if not text.isdigit():
            raise SipError(400, "Expires is not a number")
        value = int(text)
        if value == 0:
            return 0
        return max(self.settings.min_expires_s, min(value, self.settings.max_expires_s))

    async def _message(self, request: SipMessage, peer: Peer) -> SipMessage:
        device_id = uri_user(request.header("from") or "")
        device = self.devices.get(device_id)
        if device is None or time.monotonic() > device.expires_at:
            raise SipError(403, f"{device_id[:24] or 'sender'} is not registered")
        doc = manscdp.read(request.header("content-type"), request.body)
        device.last_seen = time.monotonic()
        if doc.cmd_type == "Keepalive":
            at = device.last_keepalive_at = datetime.now(UTC)
            if not device.online:
                device.online = True
                logger.info("gb28181: device %s is back online", device_id)
            self._spawn(self.listener.keepalive(device.id, at))
        elif doc.cmd_type == "Catalog" and doc.root.lower() == "response":
            self._catalog_page(device, manscdp.catalog_page(doc))
        elif doc.cmd_type == "Alarm":
            self._spawn(self._alarm(device, manscdp.alarm(doc, self._tz)))
        elif doc.cmd_type not in QUIET_CMD_TYPES:
            if doc.cmd_type not in self.unknown_cmd_types:
                self.unknown_cmd_types.add(doc.cmd_type)
            raise SipError(501, f"CmdType {doc.cmd_type[:32]!r} is not served")
        return response(request, 200)

    def _catalog_page(self, device: Device, page: manscdp.CatalogPage) -> None:
        gathered = device.pages.setdefault(page.sn, {})
        gathered.update({item.id: item for item in page.items})
        if len(gathered) >= page.sum_num:
            del device.pages[page.sn]
            device.channels = {k: v for k, v in gathered.items() if is_camera(k)}
            logger.info(
                "gb28181: device %s catalog: %d items, %d cameras",
                device.id,
                len(gathered),
                len(device.channels),
            )
            self._spawn(self._catalog(device, list(gathered.values())))

    def snapshot(self, device: Device) -> GbDevice:
        left = device.expires_at - time.monotonic()
        return GbDevice(
            device.id,
            device.peer.transport,
            f"{device.peer.host}:{device.peer.port}",
            device.registered_at,
            datetime.now(UTC) + timedelta(seconds=left),
            device.last_keepalive_at,
        )

    async def _catalog(self, device: Device, items: list[CatalogItem]) -> None:
        try:
            await self.listener.catalog(device.id, items)
        finally:
            device.catalog_ready.set()

    async def _alarm(self, device: Device, alarm: Alarm) -> None:
        # One device's alarms are handled in the order they came: a motion alarm attached to the incident
        # a density alarm opens must find it open. (The lock is taken first: its waiters queue in order.)
        async with device.alarms:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(device.catalog_ready.wait(), CATALOG_WAIT_S)
            await self.listener.alarm(device.id, alarm)

    async def query_catalog(self, device_id: str) -> bool:
        """Ask a device for its catalog, whose answer comes as MESSAGEs of its own; whether it said yes."""
        device = self.devices[device_id]
        request = self.message_to(device, manscdp.catalog_query(next(self._sn), device_id))
        try:
            answer = await self.endpoint.request(request, device.peer, timeout_s=8.0)
        except TimeoutError:
            logger.warning("gb28181: device %s did not answer the catalog query", device_id)
            return False
        if answer.status >= 300:
            logger.warning("gb28181: device %s answered the catalog query %d", device_id, answer.status)
        return answer.status < 300

    def message_to(self, device: Device, body: bytes) -> SipMessage:
        s = self.settings
        request = SipMessage(method="MESSAGE", uri=f"sip:{device.id}@{device.peer.host}:{device.peer.port}")
        request.add("from", f"<sip:{s.platform_id}@{s.domain}>;tag={new_tag()}")
        request.add("to", f"<sip:{device.id}@{s.domain}>")
        request.add("call-id", f"{new_tag()}{new_tag()}@{self.endpoint.advertise}")
        request.add("cseq", f"{next(self._sn)} MESSAGE")
        request.add("content-type", manscdp.CONTENT_TYPE)
        request.body = body
        return request

    async def _watch_keepalives(self) -> None:
        s = self.settings
        tick = min(max(s.keepalive_s / 4, 0.05), 5.0)
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for device in list(self.devices.values()):
                if not device.online:
                    continue
                reason = None
                if now > device.expires_at:
                    reason = "registration expired"
                elif now - device.last_seen > s.keepalive_s * s.max_missed:
                    reason = f"{s.max_missed} keepalives missed"
                if reason is not None:
                    device.online = False
                    logger.warning("gb28181: device %s offline: %s", device.id, reason)
                    await self.listener.offline(device.id, reason)
