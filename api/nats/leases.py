"""Camera assignment by leases: the nodes of a township share its cameras through a JetStream KV bucket.

One bucket per township, ``gw_leases_<township>``, holds two kinds of key:

- ``node.<id>``: a member's heartbeat, written every ``lease_s / 5``; the live members are the keys present.
- ``camera.<id>``: the lease on one camera, its value naming the holder's node and session. A node takes a
  lease only by compare-and-set (KV create: no live value) and renews it only by compare-and-set on the
  revision it last wrote (KV update with ``last``), so two nodes never both succeed.

Expiry: the bucket's TTL (stream ``max_age``) is the lease period. With ``history=1`` a key's only message
is its last write, so the TTL lapses each key ``lease_s`` after its last renewal, which is exactly a lease,
and the server (any with KV, 2.6 and up) removes it without anyone's help: a dead node needs no
one to clean up after it. Per-message TTLs (nats-server 2.11+) would do the same per key, but nats-py 2.16
sets them only on ``create`` and not on ``update``, and a renewal must be an ``update`` to be a
compare-and-set; the bucket TTL needs neither. The bucket is the single source of the period: a node that
finds it with another TTL uses the bucket's.

Each node computes its share alone (detect/analysis/assignment.py: rendezvous hashing with bounded loads
over the live members), so a node that joins takes a share and a dead node's share goes to the others,
without a coordinator. A tick, every ``lease_s / 5``: heartbeat; release what is no longer ours (stop the
camera first, then delete the key, so the new owner can only start after); renew what we hold; try to take
what is ours and free. A dead node's leases lapse ``lease_s`` after its last renewal and the others take
them at their next tick: with the default 10 s, a camera is back in analysis within about 13 s.

Safety does not rest on the server alone: a node stops a camera by its own clock ``0.9 × lease_s`` after
it *sent* its last successful renewal, which is before the server (which counts from when it stored the
write) can let anyone else take it. So a node cut off from the server stops its cameras before they can
move, and a camera is analysed by two nodes for no time at all, not even the one lease period the design
allows, provided the callbacks stop a camera when they return. A node whose renewal finds the revision moved
on stops that camera at once. A blip shorter than about two thirds of the lease keeps every lease.

The bucket belongs on the township's own (leaf) JetStream domain, beside its stream: a node must keep its
leases while the uplink to the hub is down, or a cut uplink would stop every camera of the township.

Time is the injected ``clock`` (monotonic seconds); the waits between ticks are ``asyncio.sleep``; no
threads. Cancelling ``run`` is what a crash looks like (leases lapse on their own); ``leave`` is the graceful
stop (cameras stopped, leases and membership deleted, so others take over at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import StorageType
from nats.js.errors import BucketNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from detect.analysis.assignment import share_of

logger = logging.getLogger(__name__)

#: The default lease period: a dead node's cameras move within about 1.3 of it (the issue promises 30 s).
LEASE_S = 10.0
BUCKET_PREFIX = "gw_leases_"
#: Ticks per lease period: each renews every held lease, so a lease survives four missed ticks.
TICKS_PER_LEASE = 5
#: The share of the period a node keeps a camera after its last confirmed renewal: the rest is the margin
#: by which it stops before the server could hand the camera to another node.
KEEP = 0.9

Callback = Callable[[str], Awaitable[None] | None]
T = TypeVar("T")


def token(name: str) -> str:
    """A township, node or camera id as one KV key token and bucket-name part: itself when it is plain
    letters, digits and ``-``, else ``_`` and its UTF-8 in hex (a plain id has no ``_``, so no two ids
    share a token)."""
    return name if re.fullmatch(r"[A-Za-z0-9-]+", name) else "_" + name.encode().hex()


def untoken(text: str) -> str:
    return bytes.fromhex(text[1:]).decode() if text.startswith("_") else text


def bucket_name(township: str) -> str:
    return BUCKET_PREFIX + token(township)


async def open_lease_bucket(
    js: JetStreamContext, township: str, *, lease_s: float = LEASE_S, storage: StorageType = StorageType.FILE
) -> KeyValue:
    """The township's lease bucket, created with TTL ``lease_s`` if it does not exist yet. File storage:
    leases survive a restart of the server shorter than the lease, so a quick restart moves no camera."""
    if lease_s <= 0:
        raise ValueError("lease_s must be positive")
    try:
        return await js.key_value(bucket_name(township))
    except BucketNotFoundError:
        # Two nodes creating it at once is harmless: the same configuration is accepted twice.
        return await js.create_key_value(
            bucket=bucket_name(township), ttl=lease_s, history=1, storage=storage
        )


class _LinkDown(Exception):
    """The server did not answer in time (or not at all): keep what we hold until its deadline, retry."""


@dataclass(frozen=True)
class _Lease:
    revision: int
    deadline: float  # clock time by which we stop unless renewed


class CameraLeases:
    """One node's part in its township's camera leases; ``run`` calls ``on_acquire(camera)`` when this node
    should start analysing a camera and ``on_release(camera)`` when it must stop (both may be coroutines).
    The node starts a camera only after holding its lease and stops it before letting the lease go.

    The callbacks run inside the tick that renews every lease: they must return quickly (start or stop the
    camera's task, not wait for its stream), and a camera must have stopped when ``on_release`` returns,
    for that is the moment another node may take it."""

    def __init__(
        self,
        kv: KeyValue,
        node_id: str,
        township: str,
        cameras: Iterable[str],
        *,
        lease_s: float = LEASE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if lease_s <= 0:
            raise ValueError("lease_s must be positive")
        self.node_id = node_id
        self.township = township
        self.lease_s = lease_s
        self._kv = kv
        self._clock = clock
        self._cameras = frozenset(cameras)
        self._members: frozenset[str] = frozenset({node_id})
        self._held: dict[str, _Lease] = {}
        # The session tells our own writes from those of an earlier process with the same node id.
        self._value = json.dumps({"node": node_id, "session": uuid.uuid4().hex}).encode()
        self._on_acquire: Callback = _nothing
        self._on_release: Callback = _nothing

    @property
    def held(self) -> frozenset[str]:
        """The cameras this node holds a lease on and analyses."""
        return frozenset(self._held)

    @property
    def members(self) -> frozenset[str]:
        """The live nodes of the township as last seen (this one included)."""
        return self._members

    @property
    def wanted(self) -> frozenset[str]:
        """This node's fair share among the members last seen."""
        return share_of(self.node_id, self._cameras, self._members)

    def set_cameras(self, cameras: Iterable[str]) -> None:
        """The township's cameras changed (registry): the next tick shares the new set."""
        self._cameras = frozenset(cameras)

    @property
    def _tick_s(self) -> float:
        return self.lease_s / TICKS_PER_LEASE

    async def run(self, on_acquire: Callback, on_release: Callback) -> None:
        """Hold this node's share until cancelled. Cancelling releases nothing (as a crash would not); call
        ``leave`` for a graceful stop."""
        self._on_acquire, self._on_release = on_acquire, on_release
        while True:
            try:
                await self._adopt_bucket_period()
                break
            except nats.errors.Error as err:  # the server is not there yet: nothing is held, so just wait
                logger.warning("lease bucket of %s unreachable: %s", self.township, err)
                await asyncio.sleep(self._tick_s)
        task = asyncio.current_task()
        while True:
            linked = await self.tick()
            if task is not None and task.cancelling():
                # A cancel swallowed below us (nats-py awaits with ``wait_for`` too) still ends the loop.
                raise asyncio.CancelledError
            await self._wait(self._clock() + (self._tick_s if linked else self._tick_s / 4))

    async def leave(self) -> None:
        """Stop every camera, then give its lease and this node's membership back, so the others need
        not wait for them to lapse. Whatever the server does not get in time lapses on its own."""
        for camera in sorted(self._held):
            with contextlib.suppress(_LinkDown):  # the camera has stopped; only the key is left to lapse
                await self._release(camera)
        with contextlib.suppress(_LinkDown):
            await self._guarded(self._kv.delete(_node_key(self.node_id)))

    async def tick(self) -> bool:
        """One round: heartbeat, members, release, renew, take. False when the server did not answer."""
        await self._expire()
        try:
            await self._guarded(self._kv.put(_node_key(self.node_id), self._value))
            self._members = await self._guarded(self._live_members()) | {self.node_id}
            wanted = self.wanted
            # Let go first: the node that wants it next can only take it once it is released.
            for camera in sorted(self.held - wanted):
                await self._release(camera)
            for camera in sorted(self.held & wanted):
                await self._renew(camera)
            for camera in sorted(wanted - self.held):
                await self._take(camera)
        except _LinkDown:
            return False
        return True

    async def _adopt_bucket_period(self) -> None:
        status = await self._kv.status()
        if not status.ttl:
            raise ValueError(
                f"lease bucket {status.bucket} has no TTL: a dead node's leases would never lapse"
            )
        if abs(status.ttl - self.lease_s) > 1e-3:
            logger.warning("lease bucket %s has TTL %.1f s, not %.1f s: using the bucket's", status.bucket,
                           status.ttl, self.lease_s)  # fmt: skip
            self.lease_s = status.ttl

    async def _live_members(self) -> frozenset[str]:
        # The watch's consumer outlives the watch by its inactive threshold (five minutes by default): at
        # one watch a tick, seven nodes would fill the server's thousand consumers and lose sight of each
        # other. A threshold of one tick keeps about one per node.
        watcher = await self._kv.watch(
            "node.*", ignore_deletes=True, meta_only=True, inactive_threshold=max(self._tick_s, 0.5)
        )
        members: set[str] = set()
        try:
            async for entry in watcher:
                if entry is None:  # the end of what is there now
                    break
                members.add(untoken(entry.key.removeprefix("node.")))
                if entry.delta == 0:
                    break
        finally:
            await watcher.stop()  # type: ignore[no-untyped-call]
        return frozenset(members)

    async def _take(self, camera: str) -> None:
        sent = self._clock()
        try:
            revision = await self._guarded(self._kv.create(_camera_key(camera), self._value))
        except KeyWrongLastSequenceError:
            adopted = await self._adopt(camera)
            if adopted is None:
                return  # another node holds it: it will let go when it sees our share, or it lapses
            revision, sent = adopted
        await self._record(camera, revision, sent)

    async def _renew(self, camera: str) -> None:
        lease = self._held.get(camera)
        if lease is None:
            return
        sent = self._clock()
        try:
            revision = await self._guarded(
                self._kv.update(_camera_key(camera), self._value, last=lease.revision)
            )
        except KeyWrongLastSequenceError:
            adopted = await self._adopt(camera)
            if adopted is None:
                await self._drop(camera, "lost (its revision moved on)")
                return
            revision, sent = adopted
        await self._record(camera, revision, sent)

    async def _adopt(self, camera: str) -> tuple[int, float] | None:
        """A write of ours whose answer we missed (a timeout after the server stored it) left a revision
        we do not know: if the live value is this session's, renew it by its revision and carry on."""
        try:
            entry = await self._guarded(self._kv.get(_camera_key(camera)))
        except NotFoundError:
            return None
        if entry.value != self._value or entry.revision is None:
            return None
        sent = self._clock()
        try:
            return await self._guarded(
                self._kv.update(_camera_key(camera), self._value, last=entry.revision)
            ), sent
        except KeyWrongLastSequenceError:
            return None

    async def _record(self, camera: str, revision: int, sent: float) -> None:
        fresh = camera not in self._held
        self._held[camera] = _Lease(revision, sent + KEEP * self.lease_s)
        if fresh:
            logger.info("node %s takes camera %s", self.node_id, camera)
            await _call(self._on_acquire, camera)

    async def _release(self, camera: str) -> None:
        lease = self._held.get(camera)
        if lease is None:
            return
        await self._drop(camera, "released to the share of another node")
        with contextlib.suppress(KeyWrongLastSequenceError):  # then it was no longer ours anyway
            await self._guarded(self._kv.delete(_camera_key(camera), last=lease.revision))

    async def _drop(self, camera: str, why: str) -> None:
        if self._held.pop(camera, None) is not None:
            logger.info("node %s stops camera %s: %s", self.node_id, camera, why)
            await _call(self._on_release, camera)

    async def _expire(self) -> None:
        now = self._clock()
        for camera in sorted(c for c, lease in self._held.items() if lease.deadline <= now):
            await self._drop(camera, "its lease lapsed unrenewed")

    def _first_deadline(self) -> float | None:
        return min((lease.deadline for lease in self._held.values()), default=None)

    async def _wait(self, until: float) -> None:
        """Sleep until ``until``, stopping each camera whose lease lapses meanwhile at its deadline."""
        while (now := self._clock()) < until:
            first = self._first_deadline()
            await asyncio.sleep(min(until, first if first is not None else until) - now)
            await self._expire()

    async def _guarded(self, op: Coroutine[Any, Any, T]) -> T:
        """One request to the server, given up when it would outlast the first lease deadline (so a node cut
        off still stops its cameras in time) or half a period; a failure of the link is ``_LinkDown``."""
        first = self._first_deadline()
        budget = self.lease_s / 2
        if first is not None:
            budget = max(0.0, min(budget, first - self._clock()))
        try:
            # Not ``asyncio.wait_for``: on Python 3.11 it returns the result of a request that completes as
            # the task is cancelled, and the lease loop then ran on after ``cancel()``.
            async with asyncio.timeout(budget):
                result = await op
        except (TimeoutError, nats.errors.TimeoutError) as err:
            await self._expire()
            raise _LinkDown from err
        except (KeyWrongLastSequenceError, NotFoundError):
            raise
        except nats.errors.Error as err:
            logger.warning("lease bucket of %s unreachable: %s", self.township, err)
            await self._expire()
            raise _LinkDown from err
        return result


def _node_key(node_id: str) -> str:
    return f"node.{token(node_id)}"


def _camera_key(camera: str) -> str:
    return f"camera.{token(camera)}"


def _nothing(camera: str) -> None:
    return None


async def _call(callback: Callback, camera: str) -> None:
    # A camera that fails to start or stop is the node's to report (its health), not a reason to stop
    # holding, renewing and handing over every other camera's lease.
    try:
        result = callback(camera)
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.exception("camera %s: lease callback failed", camera)
