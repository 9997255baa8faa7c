"""gridwatch as a lower platform of the county's (GB/T 28181 §9.1 cascade, §9.4 alarms, §9.6 keepalive).

It REGISTERs upward (answering the digest challenge), re-registers before the registration runs out,
keeps alive every ``keepalive_s``, and starts over when a keepalive goes unanswered. Incidents go up as
``<Notify><CmdType>Alarm</CmdType>`` MESSAGEs; the upper platform's Catalog query is answered with the
cameras a callback lists, in pages of a few items as the standard's peers expect.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ingest.gb28181 import digest, manscdp
from ingest.gb28181.sip import SipError, SipMessage, new_tag, response, uri_user
from ingest.gb28181.transport import Peer, SipEndpoint
from models.config.gb28181 import Gb28181Section, GbUpperSection
from models.gb28181 import CatalogItem, UpAlarm

logger = logging.getLogger(__name__)

PAGE = 4


@dataclass(frozen=True)
class UpperSettings:
    #: The upper platform's id and domain, and where it listens.
    id: str
    domain: str
    host: str
    port: int
    transport: str
    #: gridwatch's own id and domain as the upper platform knows them.
    local_id: str
    local_domain: str
    password: str
    expires_s: int = 3600
    keepalive_s: float = 60.0
    retry_s: float = 10.0
    #: Answer the upper platform's Catalog query with gridwatch's cameras.
    share_catalog: bool = True
    #: The request alarms go up in: MESSAGE, or NOTIFY.
    alarm_request: str = "MESSAGE"

    @classmethod
    def of(cls, config: Gb28181Section, up: GbUpperSection, password: str) -> UpperSettings:
        return cls(
            id=up.id,
            domain=up.domain,
            host=up.host,
            port=up.port,
            transport=up.transport.upper(),
            local_id=config.platform_id,
            local_domain=config.domain,
            password=password,
            expires_s=up.expires_s,
            keepalive_s=up.keepalive_s,
            share_catalog=up.share_catalog,
            alarm_request=up.alarm_request,
        )


Catalog = Callable[[], Awaitable[list[CatalogItem]]]


class UpperLink:
    def __init__(
        self, settings: UpperSettings, catalog: Catalog | None = None, **endpoint_options: Any
    ) -> None:
        self.settings = settings
        self._catalog = catalog
        self.endpoint = SipEndpoint(self.handle, **endpoint_options)
        self.peer = Peer(settings.transport, settings.host, settings.port)
        self.registered = asyncio.Event()
        self.last_error: str | None = None
        self._sn = itertools.count(1)
        self._call_id = f"{new_tag()}{new_tag()}@gridwatch"
        self._tag = new_tag()
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.endpoint.start()
        self._task = asyncio.create_task(self._run(), name="gb28181-upper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.endpoint.stop()

    def _request(self, method: str, *, call_id: str | None = None, body: bytes = b"") -> SipMessage:
        s = self.settings
        request = SipMessage(method=method, uri=f"sip:{s.id}@{s.domain}")
        request.add(
            "from",
            f"<sip:{s.local_id}@{s.local_domain}>;tag={self._tag if method == 'REGISTER' else new_tag()}",
        )
        request.add("to", f"<sip:{(s.local_id if method == 'REGISTER' else s.id)}@{s.domain}>")
        request.add("call-id", call_id or f"{new_tag()}{new_tag()}@gridwatch")
        request.add("cseq", f"{next(self._sn)} {method}")
        if body:
            request.add("content-type", manscdp.CONTENT_TYPE)
            request.body = body
        return request

    async def register(self) -> None:
        """One registration, answering a challenge; SipError when the upper platform refuses it."""
        s = self.settings
        contact = f"<sip:{s.local_id}@{self.endpoint.advertise}:{self.endpoint.port}>"
        authorization: str | None = None
        for _ in range(3):
            request = self._request("REGISTER", call_id=self._call_id)
            request.add("contact", contact)
            request.add("expires", str(s.expires_s))
            if authorization is not None:
                request.add("authorization", authorization)
            answer = await self.endpoint.request(request, self.peer, timeout_s=8.0)
            if answer.status == 200:
                return
            challenge = answer.header("www-authenticate")
            if answer.status != 401 or challenge is None:
                raise SipError(
                    answer.status, f"upper platform answered REGISTER {answer.status} {answer.reason}"
                )
            params = digest.parse_params(challenge)
            authorization = digest.authorization(params, s.local_id, s.password, "REGISTER", request.uri)
        raise SipError(403, "upper platform kept challenging the REGISTER (wrong password?)")

    async def keepalive(self) -> None:
        body = manscdp.keepalive(next(self._sn), self.settings.local_id)
        answer = await self.endpoint.request(self._request("MESSAGE", body=body), self.peer, timeout_s=8.0)
        if answer.status != 200:
            raise SipError(answer.status, f"upper platform answered the keepalive {answer.status}")

    async def _run(self) -> None:
        s = self.settings
        while True:
            try:
                await self.register()
                await self.keepalive()
                logger.info("gb28181: registered with upper platform %s at %s", s.id, self.peer)
                self.registered.set()
                self.last_error = None
                refresh = asyncio.get_running_loop().time() + s.expires_s * 0.8
                while asyncio.get_running_loop().time() < refresh:
                    await asyncio.sleep(min(s.keepalive_s, s.expires_s * 0.8))
                    await self.keepalive()
            except (SipError, TimeoutError, OSError) as exc:
                self.registered.clear()
                self.last_error = str(exc)
                logger.warning("gb28181: upper platform %s: %s; retrying in %.0f s", s.id, exc, s.retry_s)
                await asyncio.sleep(s.retry_s)

    async def report(self, alarm: UpAlarm) -> bool:
        """Send an alarm up; whether the upper platform took it (False while not registered)."""
        if not self.registered.is_set():
            logger.warning(
                "gb28181: alarm %s not sent: not registered with the upper platform", alarm.alarm_id
            )
            return False
        body = manscdp.alarm_notify(
            next(self._sn),
            alarm.device_id,
            priority=alarm.priority,
            method=alarm.method,
            type_=alarm.type,
            at=alarm.at,
            description=alarm.description,
            longitude=alarm.longitude,
            latitude=alarm.latitude,
            alarm_id=alarm.alarm_id,
        )
        request = self._request(self.settings.alarm_request, body=body)
        if request.method == "NOTIFY":
            request.add("event", "Alarm")
            request.add("subscription-state", "active")
        try:
            answer = await self.endpoint.request(request, self.peer, timeout_s=8.0)
        except TimeoutError:
            logger.warning("gb28181: alarm %s: the upper platform did not answer", alarm.alarm_id)
            return False
        return answer.status == 200

    async def handle(self, request: SipMessage, peer: Peer) -> SipMessage | None:
        if request.method == "OPTIONS":
            return response(request, 200)
        if request.method != "MESSAGE":
            raise SipError(501, f"{request.method} is not served here")
        if uri_user(request.header("from") or "") != self.settings.id:
            raise SipError(403, "only the upper platform is served here")
        doc = manscdp.read(request.header("content-type"), request.body)
        if doc.cmd_type != "Catalog" or doc.root.lower() != "query":
            raise SipError(501, f"CmdType {doc.cmd_type[:32]!r} is not served")
        if not self.settings.share_catalog or self._catalog is None:
            raise SipError(403, "this platform does not share its catalog")
        task = asyncio.create_task(self._send_catalog(doc.sn))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        return response(request, 200)

    async def _send_catalog(self, sn: int) -> None:
        assert self._catalog is not None
        items = await self._catalog()
        for start in range(0, max(len(items), 1), PAGE):
            body = manscdp.catalog_response(
                sn, self.settings.local_id, items[start : start + PAGE], len(items)
            )
            try:
                await self.endpoint.request(self._request("MESSAGE", body=body), self.peer, timeout_s=8.0)
            except TimeoutError:
                logger.warning("gb28181: catalog page to the upper platform went unanswered")
                return
