"""SIP over UDP and TCP for GB/T 28181: one endpoint that serves requests and sends its own.

Requests in go to a handler that returns the response; a UDP retransmission of a request already answered
gets the same response again (RFC 3261 §17.2.2) without reaching the handler twice. Requests out are
client transactions: over UDP retransmitted from 500 ms, doubling to 4 s, until a final response or the
timeout (§17.1.2). A message that cannot be read is answered with its error status when enough of it is
readable to answer, and dropped otherwise, with one log line either way: nothing a peer sends ends the
endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from ingest.gb28181.sip import Framer, SipError, SipMessage, new_branch, parse, respondable, response

logger = logging.getLogger(__name__)

T1, T2 = 0.5, 4.0
#: How long an answered request's response is kept for its retransmissions (64·T1).
ANSWERED_KEEP_S = 32.0
#: How long a closing TCP connection waits for the answers still being made for it.
ANSWER_WAIT_S = 5.0


@dataclass(frozen=True, slots=True)
class Peer:
    transport: str  # "UDP" or "TCP"
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.transport.lower()}:{self.host}:{self.port}"


Handler = Callable[[SipMessage, Peer], Awaitable[SipMessage | None]]


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, endpoint: SipEndpoint) -> None:
        self.endpoint = endpoint

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.endpoint.received(data, Peer("UDP", str(addr[0]), int(str(addr[1]))))


class SipEndpoint:
    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "0.0.0.0",
        port: int = 5060,
        udp: bool = True,
        tcp: bool = True,
        advertise: str | None = None,
        max_body: int = 64 * 1024,
        transaction_timeout_s: float = 32.0,
    ) -> None:
        self._handler = handler
        self._host, self._port = host, port
        self._use_udp, self._use_tcp = udp, tcp
        self.advertise = advertise or ("127.0.0.1" if host in ("0.0.0.0", "") else host)
        self._max_body = max_body
        self._timeout_s = transaction_timeout_s
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._streams: dict[Peer, asyncio.StreamWriter] = {}
        self._pending: dict[tuple[str, str], asyncio.Future[SipMessage]] = {}
        self._answered: dict[tuple[str, str, str], tuple[float, bytes | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._handling: dict[Peer, set[asyncio.Task[None]]] = {}
        #: Messages answered with an error or dropped: what the fuzz test counts.
        self.refused = 0

    @property
    def port(self) -> int:
        return self._port

    async def start(self) -> None:
        """Listen; with port 0, on one free port for both UDP and TCP (a few tries: the number UDP got may be
        taken for TCP)."""
        wanted = self._port
        for attempt in range(20):
            try:
                await self._listen()
                return
            except OSError:
                self._close_listeners()
                self._port = wanted
                if wanted != 0 or attempt == 19:
                    raise

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        if self._use_udp:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=(self._host, self._port)
            )
            self._udp = transport
            self._port = transport.get_extra_info("sockname")[1]
        if self._use_tcp:
            self._tcp = await asyncio.start_server(self._serve_stream, self._host, self._port)
            self._port = self._tcp.sockets[0].getsockname()[1]

    def _close_listeners(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            self._tcp = None

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
        for writer in list(self._streams.values()):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._tcp is not None:
            with contextlib.suppress(Exception):
                await self._tcp.wait_closed()

    # --- receiving ---

    def received(self, data: bytes, peer: Peer) -> None:
        try:
            message = parse(data, max_body=self._max_body)
        except SipError as exc:
            self._refuse(data, peer, exc)
            return
        except Exception as exc:  # a parser bug must not end the endpoint
            self._refuse(data, peer, SipError(400, f"unreadable ({type(exc).__name__})"))
            return
        if not message.is_request:
            key = (message.header("call-id") or "", message.header("cseq") or "")
            future = self._pending.get(key)
            if future is not None and not future.done():
                if message.status >= 200:
                    future.set_result(message)
                return
            self._drop(peer, f"a {message.status} response to no request of ours")
            return
        if message.method == "ACK":
            # Only INVITE's final responses are ACKed, and nothing here answers an INVITE with one.
            self._drop(peer, "an ACK to no INVITE")
            return
        key3 = (message.branch, message.header("call-id") or "", message.header("cseq") or "")
        now = time.monotonic()
        seen = self._answered.get(key3)
        if seen is not None and now - seen[0] < ANSWERED_KEEP_S:
            if seen[1] is not None:
                self._send_bytes(seen[1], peer)
            else:
                self._drop(peer, f"a retransmitted {message.method} still being handled")
            return
        self._answered[key3] = (now, None)
        if len(self._answered) > 4096:
            self._answered = {k: v for k, v in self._answered.items() if now - v[0] < ANSWERED_KEEP_S}
        task = self._spawn(self._handle(message, peer, key3))
        if peer.transport == "TCP":
            handling = self._handling.setdefault(peer, set())
            handling.add(task)
            task.add_done_callback(handling.discard)

    def _drop(self, peer: Peer, what: str) -> None:
        self.refused += 1
        logger.info("gb28181: dropped a message from %s: %s", peer, what)

    def _refuse(self, data: bytes, peer: Peer, error: SipError) -> None:
        self.refused += 1
        request = respondable(data)
        if request is None or request.method == "ACK":
            logger.warning("gb28181: dropped a message from %s: %s", peer, error.reason)
            return
        logger.warning(
            "gb28181: answered %d to %s from %s: %s", error.status, request.method, peer, error.reason
        )
        self.send(response(request, error.status), peer)

    async def _handle(self, request: SipMessage, peer: Peer, key: tuple[str, str, str]) -> None:
        try:
            answer = await self._handler(request, peer)
        except SipError as exc:
            self.refused += 1
            logger.warning(
                "gb28181: answered %d to %s from %s: %s", exc.status, request.method, peer, exc.reason
            )
            answer = response(request, exc.status)
        except Exception:
            logger.exception("gb28181: %s from %s failed", request.method, peer)
            answer = response(request, 500)
        if answer is not None:
            data = answer.serialise()
            self._answered[key] = (time.monotonic(), data)
            self._send_bytes(data, peer)

    async def _serve_stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        name = writer.get_extra_info("peername")
        peer = Peer("TCP", str(name[0]), int(name[1]))
        self._streams[peer] = writer
        await self._read_stream(reader, writer, peer)

    async def _read_stream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Peer
    ) -> None:
        framer = Framer(self._max_body)
        try:
            while data := await reader.read(65536):
                try:
                    messages = framer.feed(data)
                except SipError as exc:
                    # Where the next message would begin is unknown: answer what can be, then hang up.
                    self._refuse(data, peer, exc)
                    break
                for message in messages:
                    self.received(message, peer)
            else:
                if framer.pending:
                    self._drop(
                        peer, f"{framer.pending} bytes of an unfinished message at the connection's end"
                    )
        except (ConnectionError, OSError) as exc:
            logger.info("gb28181: connection %s lost: %s", peer, exc)
        finally:
            # A peer that half-closed after its last request still gets the answers being made for it.
            handling = self._handling.pop(peer, set())
            if handling:
                await asyncio.wait(handling, timeout=ANSWER_WAIT_S)
            if self._streams.get(peer) is writer:
                del self._streams[peer]
            writer.close()

    # --- sending ---

    def send(self, message: SipMessage, peer: Peer) -> None:
        self._send_bytes(message.serialise(), peer)

    def _send_bytes(self, data: bytes, peer: Peer) -> None:
        if peer.transport == "UDP":
            if self._udp is not None:
                self._udp.sendto(data, (peer.host, peer.port))
            return
        writer = self._streams.get(peer)
        if writer is None or writer.is_closing():
            logger.info("gb28181: no connection to %s; message not sent", peer)
            return
        writer.write(data)

    async def connect(self, peer: Peer) -> None:
        """Open a TCP connection to ``peer`` (an upper platform): requests go out and come back on it."""
        if peer.transport != "TCP" or peer in self._streams:
            return
        reader, writer = await asyncio.open_connection(peer.host, peer.port)
        self._streams[peer] = writer
        self._spawn(self._read_stream(reader, writer, peer))

    def via(self, transport: str) -> str:
        return f"SIP/2.0/{transport} {self.advertise}:{self._port};rport;branch={new_branch()}"

    async def request(self, message: SipMessage, peer: Peer, *, timeout_s: float | None = None) -> SipMessage:
        """Send a request and wait for its final response; TimeoutError when none comes."""
        if message.header("via") is None:
            message.add("via", self.via(peer.transport))
        if message.header("max-forwards") is None:
            message.add("max-forwards", "70")
        await self.connect(peer)
        key = (message.header("call-id") or "", message.header("cseq") or "")
        future: asyncio.Future[SipMessage] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        data = message.serialise()
        deadline = time.monotonic() + (timeout_s or self._timeout_s)
        interval = T1
        try:
            while True:
                self._send_bytes(data, peer)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no answer from {peer} to {message.method}")
                wait = min(interval, left) if peer.transport == "UDP" else left
                # asyncio.wait, not wait_for: Python 3.11's wait_for can drop a cancellation that lands as
                # the answer does, and the stopped caller (a registration loop) would then run on.
                done, _ = await asyncio.wait({future}, timeout=wait)
                if done:
                    return future.result()
                interval = min(interval * 2, T2)
        finally:
            self._pending.pop(key, None)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
