"""A camera's encoded H.264 packets, fanned out from its one pull to the live viewers (WebRTC passthrough).

The source's worker thread demuxes every packet anyway; when someone watches, it hands each one here as
the camera encoded it (no decode, no encode). Nothing here may slow the worker or analysis: with no
subscriber ``publish`` returns at once (nothing is buffered), and each subscriber has a bounded queue on
the event loop that, when its viewer falls behind, is emptied and restarted at the next keyframe, since
the packets after a lost one are undecodable until then. A new subscriber starts at a keyframe too.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import deque
from dataclasses import dataclass

#: RTP's video clock: every packet's pts is in these ticks.
CLOCK_RATE = 90_000
#: Packets a viewer may lag behind before it is restarted at the next keyframe (about 2 s at 25 fps).
QUEUE_LIMIT = 50
#: A pts step forward larger than this is a new timeline: a reconnect, or the camera's clock jumped.
MAX_STEP_S = 5.0
#: How far back a packet's pts may step and still be on the same timeline (B-frames come out of order).
MAX_BACK_S = 1.0
#: An SPS NAL unit after an Annex B start code (forbidden bit 0, any NRI, type 7).
_SPS = re.compile(rb"\x00\x00\x01[\x07\x27\x47\x67]")


@dataclass(frozen=True, slots=True)
class EncodedPacket:
    """One access unit as the camera sent it (Annex B), on a timeline that never goes backwards."""

    data: bytes
    #: In 1/CLOCK_RATE s, counting from the fan-out's first packet.
    pts: int
    keyframe: bool


class _Timeline:
    """Camera pts → a 90 kHz clock that does not jump; re-anchored on real time when the camera's pts does."""

    def __init__(self) -> None:
        self._anchor: tuple[float, float] | None = None  # (camera seconds, output seconds)
        self._last: tuple[float, float] | None = None  # (latest output seconds, monotonic then)

    def stamp(self, seconds: float | None, now: float) -> int:
        out: float | None = None
        if self._anchor is not None and seconds is not None and self._last is not None:
            out = self._anchor[1] + (seconds - self._anchor[0])
            # B-frames step back a little; a reconnect or a camera clock jump steps anywhere.
            if not self._last[0] - MAX_BACK_S <= out <= self._last[0] + MAX_STEP_S:
                out = None
        if out is None:
            # Continue from the latest packet by the time that really passed since it.
            out = 0.0 if self._last is None else self._last[0] + max(now - self._last[1], 0.0)
            self._anchor = (seconds, out) if seconds is not None else None
        if self._last is None or out >= self._last[0]:
            self._last = (out, now)
        return round(out * CLOCK_RATE)

    def reconnected(self) -> None:
        """The next packet's pts belongs to a new connection: anchor it afresh."""
        self._anchor = None


class Subscription:
    """One viewer's bounded queue of packets, starting at a keyframe. Used on the event loop only."""

    def __init__(self, fanout: PacketFanout, limit: int) -> None:
        self._fanout = fanout
        self._limit = limit
        self._queue: deque[EncodedPacket] = deque()
        self._ready = asyncio.Event()
        self.waiting_for_keyframe = True
        #: Packets this viewer never got: before its first keyframe, or thrown away when it fell behind.
        self.dropped = 0
        #: Times it fell behind and was restarted at a keyframe.
        self.restarts = 0
        self.closed = False

    def __len__(self) -> int:
        return len(self._queue)

    def offer(self, packet: EncodedPacket) -> None:
        if self.closed:
            return
        if len(self._queue) >= self._limit:
            # What is queued cannot be played without the packet we cannot keep: restart at a keyframe.
            self.dropped += len(self._queue)
            self._queue.clear()
            self.waiting_for_keyframe = True
            self.restarts += 1
        if self.waiting_for_keyframe:
            if not packet.keyframe:
                self.dropped += 1
                return
            self.waiting_for_keyframe = False
        self._queue.append(packet)
        self._ready.set()

    async def get(self) -> EncodedPacket | None:
        """The next packet; None once the subscription or its source is closed."""
        while not self._queue:
            if self.closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._ready.set()
            self._fanout.unsubscribe(self)


class PacketFanout:
    """The encoded packets of one camera's pull, for any number of subscribers.

    ``publish`` runs on the source's worker thread; everything else on the event loop, which the source
    binds when it starts. The subscriber tuple is replaced whole, never mutated, so the worker reads it
    without a lock.
    """

    def __init__(self, camera_id: str, *, queue_limit: int = QUEUE_LIMIT) -> None:
        if queue_limit < 1:
            raise ValueError(f"queue_limit must be at least 1, got {queue_limit}")
        self.camera_id = camera_id
        self.queue_limit = queue_limit
        #: The codec of the current connection ("h264", "hevc", …); None until the first connects.
        self.codec: str | None = None
        self._extradata = b""
        self._subscribers: tuple[Subscription, ...] = ()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timeline = _Timeline()
        self._ended = False
        #: Packets handed to subscribers (0 while nobody watches: nothing is copied then).
        self.published = 0

    # -- event loop side -------------------------------------------------------------------------

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @property
    def watched(self) -> bool:
        return bool(self._subscribers)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def subscribe(self) -> Subscription:
        subscription = Subscription(self, self.queue_limit)
        if self._ended:
            subscription.closed = True
        else:
            self._subscribers = (*self._subscribers, subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers = tuple(s for s in self._subscribers if s is not subscription)

    def end(self) -> None:
        """The source is closed: every subscriber's ``get`` returns None once its queue is empty."""
        self._ended = True
        for subscription in self._subscribers:
            subscription.close()

    def _deliver(self, packet: EncodedPacket) -> None:
        for subscription in self._subscribers:
            subscription.offer(packet)

    # -- worker thread side ----------------------------------------------------------------------

    def opened(self, codec: str, extradata: bytes | None) -> None:
        """A (re)connection: its codec, and its SPS/PPS to put before keyframes that lack them."""
        self.codec = codec
        # RTSP's H.264 extradata is Annex B (sprop-parameter-sets with start codes); avcC would not splice.
        annex_b = extradata is not None and extradata.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01"))
        self._extradata = bytes(extradata) if extradata is not None and annex_b else b""
        self._timeline.reconnected()

    def publish(self, data: bytes, keyframe: bool, seconds: float | None) -> None:
        """Hand one demuxed packet to the subscribers; returns at once, and copies nothing, if none."""
        loop = self._loop
        if not self._subscribers or loop is None:
            return
        if keyframe and self._extradata and _SPS.search(data) is None:
            # A viewer starts at this keyframe: without the parameter sets its decoder cannot begin.
            data = self._extradata + data
        packet = EncodedPacket(data, self._timeline.stamp(seconds, time.monotonic()), keyframe)
        self.published += 1
        # A closed loop: nobody is left to watch.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._deliver, packet)
