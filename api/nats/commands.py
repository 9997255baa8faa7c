"""Commands to the nodes through a KV bucket per township, ``gw_cmd_<township>``.

The bucket is the township's camera registry as the centre last wrote it: key ``camera.<id>`` holds the
camera's ``RunCamera`` (deleted: stop it), ``watch.<incident>`` a ``WatchZone``. The centre writes it in the
hub (its own domain: a write never waits for an uplink); each township's leaf holds a file-backed mirror of
it (sourced through ``$JS.county.API``), which its nodes watch: a node starts from the mirror's state, also
while the uplink is down, and follows each change once the mirror has it. Which cameras a node runs is its
``Assignment``: a fixed list (or every camera of the township) today, a lease set (api/nats/leases.py) when a
township runs several nodes; ``NodeCommands.reassign`` is the seam where a changed set plugs in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Iterable
from typing import Protocol

from nats.js import JetStreamContext
from nats.js.api import ExternalStream, StorageType, StreamConfig, StreamSource
from nats.js.errors import BadRequestError, NotFoundError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from api.nats.wire import WireError, decode_command, encode
from models.link import CameraCommand, CommandSink, RunCamera, StopCamera, WatchZone
from models.records import Camera

logger = logging.getLogger(__name__)

_KEY_SAFE = re.compile(r"^[-_=A-Za-z0-9]+$")


def command_bucket(township: str) -> str:
    return f"gw_cmd_{township}"


def camera_key(camera_id: str) -> str:
    """A KV key for any camera id: itself where the key alphabet allows, else hex behind an ``x``."""
    return f"camera.{camera_id}" if _KEY_SAFE.match(camera_id) else f"camera.x{camera_id.encode().hex()}"


async def ensure_commands(js: JetStreamContext, township: str) -> KeyValue:
    """The centre's side: the township's bucket in the hub."""
    with contextlib.suppress(BadRequestError):
        return await js.create_key_value(bucket=command_bucket(township), storage=StorageType.FILE, history=1)
    return await js.key_value(command_bucket(township))


async def ensure_command_mirror(js: JetStreamContext, township: str, hub_domain: str) -> KeyValue:
    """The township's side: a file-backed mirror of the hub's bucket, in the leaf's own domain."""
    stream = f"KV_{command_bucket(township)}"
    try:
        await js.stream_info(stream)
    except NotFoundError:
        await js.add_stream(
            StreamConfig(
                name=stream,
                mirror=StreamSource(name=stream, external=ExternalStream(api=f"$JS.{hub_domain}.API")),
                max_msgs_per_subject=1,
                storage=StorageType.FILE,
                allow_rollup_hdrs=True,
                deny_delete=True,
            )
        )
    return await js.key_value(command_bucket(township))


class KvCommands:
    """The centre's CommandSink: each command into its camera's township bucket (in the hub, always there).

    ``township_of`` names a camera's township; a camera of no township a node serves is logged and skipped.
    """

    def __init__(self, buckets: dict[str, KeyValue], township_of: Callable[[str], str | None]) -> None:
        self._buckets = buckets
        #: Which township runs a camera (settable: the centre knows its routing only once it is built).
        self.township_of = township_of

    async def send(self, command: CameraCommand) -> None:
        camera_id = command.camera.id if isinstance(command, RunCamera) else command.camera_id
        township = self.township_of(camera_id)
        bucket = self._buckets.get(township) if township is not None else None
        if bucket is None:
            logger.warning("camera %s is in no township a node serves: %s not sent", camera_id, command)
            return
        if isinstance(command, WatchZone):
            await bucket.put(f"watch.{command.incident_id}", encode(command))
        elif isinstance(command, RunCamera):
            await bucket.put(camera_key(camera_id), encode(command))
        else:
            await bucket.delete(camera_key(camera_id))

    async def sync(self, cameras: Iterable[Camera]) -> None:
        """Make each township's bucket hold exactly ``cameras`` (the centre's registry at its start)."""
        wanted: dict[str, set[str]] = {t: set() for t in self._buckets}
        for camera in cameras:
            await self.send(RunCamera(camera))
            township = self.township_of(camera.id)
            if township in wanted:
                wanted[township].add(camera_key(camera.id))
        for township, keys in wanted.items():
            bucket = self._buckets[township]
            try:
                stored = await bucket.keys()
            except Exception:  # nats-py raises NoKeysError on an empty bucket
                stored = []
            for key in stored:
                if key.startswith("camera.") and key not in keys:
                    await bucket.delete(key)


class Assignment(Protocol):
    """Which of the township's cameras this node analyses."""

    def owns(self, camera_id: str) -> bool: ...


class StaticAssignment:
    """A fixed list of camera ids, or (None) every camera of the township."""

    def __init__(self, camera_ids: Iterable[str] | None = None) -> None:
        self._ids = None if camera_ids is None else frozenset(camera_ids)

    def owns(self, camera_id: str) -> bool:
        return self._ids is None or camera_id in self._ids


class LeasedAssignment:
    """The cameras this node holds a lease on (api/nats/leases.py): what the township's nodes share out;
    and those the site file pins to this node, which it runs without a lease (no other node may)."""

    def __init__(self, pinned: Iterable[str] = ()) -> None:
        self.held: set[str] = set()
        self.pinned = frozenset(pinned)

    def owns(self, camera_id: str) -> bool:
        return camera_id in self.held or camera_id in self.pinned


class NodeCommands:
    """A node's side: follow the township's bucket and run, on ``node``, the cameras it owns."""

    def __init__(self, bucket: KeyValue, node: CommandSink, assignment: Assignment) -> None:
        self._bucket = bucket
        self._node = node
        self._assignment = assignment
        #: The bucket's cameras (every one, owned or not), and those this node runs.
        self.registry: dict[str, Camera] = {}
        self.running: set[str] = set()
        self.synced = asyncio.Event()
        #: Told the township's camera ids whenever the registry changes (the leases share them out).
        self.on_registry: Callable[[frozenset[str]], None] | None = None

    async def run(self, *, retry_s: float = 1.0) -> None:
        """Apply the bucket's state, then every change, until cancelled; watch again after a failure (the
        server restarting): the state comes again, and what is unchanged leaves its camera running."""
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("command bucket watch failed, watching again: %s", exc or type(exc).__name__)
            await asyncio.sleep(retry_s)

    async def _follow(self) -> None:
        watcher = await self._bucket.watchall()
        try:
            async for entry in watcher:
                if entry is None:  # the end of the initial state
                    self.synced.set()
                    continue
                await self._apply(entry)
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()  # type: ignore[no-untyped-call]

    async def reassign(self, assignment: Assignment) -> None:
        """Swap in a new camera set (a lease change): start what is now ours, stop what no longer is."""
        self._assignment = assignment
        for camera_id in sorted(self.running - {c for c in self.registry if assignment.owns(c)}):
            self.running.discard(camera_id)
            await self._node.send(StopCamera(camera_id))
        for camera_id, camera in sorted(self.registry.items()):
            if assignment.owns(camera_id) and camera_id not in self.running:
                self.running.add(camera_id)
                await self._node.send(RunCamera(camera))

    async def _apply(self, entry: KeyValue.Entry) -> None:
        await self._apply_entry(entry)
        if self.on_registry is not None:
            self.on_registry(frozenset(self.registry))

    async def _apply_entry(self, entry: KeyValue.Entry) -> None:
        deleted = entry.operation in (KV_DEL, KV_PURGE)
        if entry.key.startswith("camera.") and deleted:
            for camera_id, camera in list(self.registry.items()):
                if camera_key(camera.id) == entry.key:
                    del self.registry[camera_id]
                    if camera_id in self.running:
                        self.running.discard(camera_id)
                        await self._node.send(StopCamera(camera_id))
            return
        if deleted or not entry.value:
            return
        try:
            command = decode_command(entry.value)
        except WireError as exc:
            logger.error("command %s unreadable: %s", entry.key, exc)
            return
        if isinstance(command, RunCamera):
            if self.registry.get(command.camera.id) == command.camera and command.camera.id in self.running:
                return  # the centre wrote its registry again at its start: the camera runs on undisturbed
            self.registry[command.camera.id] = command.camera
            if self._assignment.owns(command.camera.id):
                self.running.add(command.camera.id)
                await self._node.send(command)
        elif isinstance(command, WatchZone) and command.camera_id in self.running:
            await self._node.send(command)
        elif isinstance(command, StopCamera) and command.camera_id in self.running:
            self.running.discard(command.camera_id)
            await self._node.send(command)
