"""Live video across the link: the wall at the centre plays a township camera from the node analysing it.

- A node with ``--video-port`` serves WHEP for the cameras it analyses (``node_video_app``), over the same
  WebRTCHub ``serve`` uses: an RTSP camera's packets from the analysis pull, passed through, never a second
  RTSP session and never the camera's password outside the township.
- It says which cameras it serves where in its township's video directory, a KV bucket on the leaf
  (``gw_video_<township>``, key ``camera.<id>``, value ``{"node", "url"}``), refreshed while it runs them
  and lapsing with the bucket's TTL when the node dies (``VideoDirectory``).
- The centre's hub (``NodeRelayHub``) looks a camera up in its township's directory (through the leaf's
  JetStream domain, so only while the uplink is up) and forwards the wall's SDP offer to that node; the
  answer goes back to the browser, and the media then flows node → browser where the two can route to each
  other (docs/deploy.md). Centre and nodes prove themselves to each other with a shared bearer token
  (``GRIDWATCH_VIDEO_TOKEN``): the node's port answers nobody else.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpx
import nats.errors
from nats.js import JetStreamContext
from nats.js.api import StorageType
from nats.js.errors import BucketNotFoundError, KeyNotFoundError
from nats.js.kv import KeyValue
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from api.nats.leases import token
from api.webrtc import OfferRejected, WebRTCHub
from detect.analysis.node import AnalysisNode
from models.records import Camera

logger = logging.getLogger(__name__)

BUCKET_PREFIX = "gw_video_"
#: An entry lapses this long after its node last wrote it: a dead node's cameras leave the directory.
TTL_S = 30.0
#: How often a node looks at what it runs, and rewrites every entry (well inside the TTL).
CHECK_S = 2.0
REFRESH_S = 10.0
#: The forwarded offer: the node answers once its ICE candidates are gathered (host candidates: quick).
FORWARD_TIMEOUT_S = 15.0
TOKEN_ENV = "GRIDWATCH_VIDEO_TOKEN"


def bucket_name(township: str) -> str:
    return BUCKET_PREFIX + token(township)


def _key(camera_id: str) -> str:
    return f"camera.{token(camera_id)}"


async def open_video_bucket(js: JetStreamContext, township: str) -> KeyValue:
    """The township's video directory on its leaf, created on first use (memory: it is rewritten anyway)."""
    try:
        return await js.key_value(bucket_name(township))
    except BucketNotFoundError:
        return await js.create_key_value(
            bucket=bucket_name(township), ttl=TTL_S, history=1, storage=StorageType.MEMORY
        )


class VideoDirectory:
    """A node's entries in its township's video directory: the cameras it runs → its WHEP base URL."""

    def __init__(self, kv: KeyValue, node_id: str, url: str, running: Callable[[], Iterable[str]]) -> None:
        self._kv = kv
        self._running = running
        self._value = json.dumps({"node": node_id, "url": url}).encode()
        self._published: dict[str, float] = {}

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                now = loop.time()
                running = set(self._running())
                for camera_id in sorted(running):
                    if now - self._published.get(camera_id, -REFRESH_S) >= REFRESH_S:
                        await self._kv.put(_key(camera_id), self._value)
                        self._published[camera_id] = now
                for camera_id in sorted(set(self._published) - running):
                    await self._withdraw(camera_id)
            except (nats.errors.Error, TimeoutError) as exc:
                logger.warning("video directory unreachable: %s", exc or type(exc).__name__)
            await asyncio.sleep(CHECK_S)

    async def withdraw(self) -> None:
        """Take every entry of this node out (a clean stop); what cannot be reached lapses by the TTL."""
        for camera_id in sorted(self._published):
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                await asyncio.wait_for(self._withdraw(camera_id), 2.0)

    async def _withdraw(self, camera_id: str) -> None:
        self._published.pop(camera_id, None)
        try:
            entry = await self._kv.get(_key(camera_id))
        except KeyNotFoundError:
            return
        if entry.value == self._value:  # another node may hold the camera now: its entry stays
            await self._kv.delete(_key(camera_id), last=entry.revision)


def _authorised(request: Request, secret: str) -> bool:
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    return hmac.compare_digest(given.encode(), secret.encode())


def node_video_app(hub: WebRTCHub, analysis: AnalysisNode, secret: str) -> Starlette:
    """The node's WHEP endpoint for the centre: ``POST /whep/{camera}`` (SDP offer → answer, 201 with its
    Location), ``DELETE /whep/session/{id}``; only for a camera this node analyses, only with the token."""

    async def offer(request: Request) -> Response:
        if not _authorised(request, secret):
            return PlainTextResponse("a valid video token is required", 401)
        camera_id = request.path_params["camera_id"]
        camera: Camera | None = analysis.cameras.get(camera_id)
        if camera is None:
            return PlainTextResponse(f"camera {camera_id} is not analysed on this node", 404)
        try:
            session_id, answer = await hub.offer(camera, (await request.body()).decode("utf-8"))
        except (OfferRejected, UnicodeDecodeError) as exc:
            return PlainTextResponse(str(exc), 422)
        headers = {"Location": f"/whep/session/{session_id}"}
        return Response(answer, 201, media_type="application/sdp", headers=headers)

    async def hangup(request: Request) -> Response:
        if not _authorised(request, secret):
            return PlainTextResponse("a valid video token is required", 401)
        closed = await hub.close(request.path_params["session_id"])
        return Response(status_code=204 if closed else 404)

    return Starlette(
        routes=[
            Route("/whep/{camera_id}", offer, methods=["POST"]),
            Route("/whep/session/{session_id}", hangup, methods=["DELETE"]),
        ]
    )


#: Camera id → the base URL of the node serving its video now; None for a camera of no township the centre
#: sources; OfferRejected when its township's nodes do not serve it now (not running, or the link is down).
Locate = Callable[[str], Awaitable[str | None]]


class NodeRelayHub(WebRTCHub):
    """The county centre's hub: a camera a township node analyses plays from that node (the offer is
    forwarded, the media goes node → browser); any other camera as WebRTCHub plays it."""

    def __init__(self, analysis: AnalysisNode, locate: Locate, secret: str) -> None:
        super().__init__(analysis)
        self._locate = locate
        self._secret = secret
        self._client = httpx.AsyncClient(timeout=FORWARD_TIMEOUT_S)
        #: Forwarded sessions: id here → (camera, the node's session URL).
        self.forwarded: dict[str, tuple[str, str]] = {}

    async def offer(self, camera: Camera, offer_sdp: str) -> tuple[str, str]:
        node = await self._locate(camera.id)
        if node is None:  # in no township a node serves: a pull of the centre's own, where it routes
            return await super().offer(camera, offer_sdp)
        headers = {"Authorization": f"Bearer {self._secret}", "Content-Type": "application/sdp"}
        try:
            reply = await self._client.post(f"{node}/whep/{camera.id}", content=offer_sdp, headers=headers)
        except httpx.HTTPError as exc:
            raise OfferRejected(f"camera {camera.id}: its node at {node} did not answer: {exc}") from None
        if reply.status_code != 201:
            raise OfferRejected(f"camera {camera.id}: its node refused the offer: {reply.text}")
        session_id = uuid.uuid4().hex
        self.forwarded[session_id] = (camera.id, node + reply.headers.get("location", ""))
        return session_id, reply.text

    def camera_of(self, session_id: str) -> str | None:
        forwarded = self.forwarded.get(session_id)
        return forwarded[0] if forwarded is not None else super().camera_of(session_id)

    async def close(self, session_id: str) -> bool:
        forwarded = self.forwarded.pop(session_id, None)
        if forwarded is None:
            return await super().close(session_id)
        with contextlib.suppress(httpx.HTTPError):
            await self._client.delete(forwarded[1], headers={"Authorization": f"Bearer {self._secret}"})
        return True

    async def aclose(self) -> None:
        for session_id in list(self.forwarded):
            await self.close(session_id)
        await self._client.aclose()
        await super().aclose()


def directory_locator(
    nc: Any, township_of: Callable[[str], str | None], domains: dict[str, str | None]
) -> Locate:
    """The centre's lookup: the camera's township, that township's directory through its leaf's domain."""
    buckets: dict[str, KeyValue] = {}

    async def locate(camera_id: str) -> str | None:
        township = township_of(camera_id)
        if township is None or township not in domains:
            return None
        try:
            if township not in buckets:
                js = nc.jetstream(domain=domains[township])
                buckets[township] = await asyncio.wait_for(js.key_value(bucket_name(township)), 3.0)
            entry = await asyncio.wait_for(buckets[township].get(_key(camera_id)), 3.0)
        except (BucketNotFoundError, KeyNotFoundError):
            raise OfferRejected(
                f"camera {camera_id}: no node of township {township} serves its video now"
            ) from None
        except (nats.errors.Error, TimeoutError) as exc:
            logger.warning("video directory of %s unreachable: %s", township, exc or type(exc).__name__)
            buckets.pop(township, None)
            raise OfferRejected(f"camera {camera_id}: the link to township {township} is down") from None
        url = json.loads(entry.value or b"{}").get("url")
        if not url:
            raise OfferRejected(f"camera {camera_id}: no node of township {township} serves its video now")
        return str(url)

    return locate
