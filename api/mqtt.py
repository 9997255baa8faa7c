"""The centre's connection to an MQTT broker (aiomqtt): reconnects with backoff, a last will, availability.

On every (re)connection it announces ``<prefix>/available`` "online" (retained; the broker publishes the
will, "offline", if the connection dies without a goodbye) and every camera's retained availability, then
wakes the relay (router/centre/mqtt.py), which publishes what the outbox holds. Cameras are polled for
their state: a change is published when it happens, and the whole picture again after each reconnection,
so a broker that restarted without persistence still ends up holding every camera's current state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import aiomqtt

from detect.analysis.node import AnalysisNode
from models.config.mqtt import MqttSection
from router.notify.mqtt import OFFLINE, ONLINE, MqttMessage, availability, node_topic

logger = logging.getLogger(__name__)

#: Camera id → online; what the analysis role says now.
CameraStates = Callable[[], Mapping[str, bool]]


@dataclass(frozen=True)
class MqttSettings:
    """The ``mqtt:`` section with its secrets read from the environment."""

    host: str
    port: int = 1883
    prefix: str = "gridwatch"
    client_id: str = "gridwatch"
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    keepalive_s: int = 30
    reconnect_max_s: float = 60.0

    @classmethod
    def of(cls, section: MqttSection, environ: Mapping[str, str]) -> MqttSettings:
        """KeyError naming the variable when a credential's environment variable is not set."""

        def env(name: str | None) -> str | None:
            if name is None:
                return None
            if name not in environ:
                raise KeyError(f"environment variable {name} is not set (needed by mqtt:)")
            return environ[name]

        return cls(
            host=section.host,
            port=section.port,
            prefix=section.topic_prefix,
            client_id=section.client_id,
            username=env(section.username_env),
            password=env(section.password_env),
            tls=section.tls,
            ca_file=str(section.ca_file) if section.ca_file else None,
            keepalive_s=section.keepalive_seconds,
            reconnect_max_s=section.reconnect_max_seconds,
        )


class MqttLink:
    """Implements router.centre.mqtt.MqttPublisher over one broker connection at a time."""

    def __init__(
        self,
        settings: MqttSettings,
        *,
        cameras: CameraStates | None = None,
        poll_s: float = 2.0,
        timeout_s: float = 10.0,
    ) -> None:
        self.settings = settings
        self._cameras = cameras
        self._poll_s = poll_s
        self._timeout_s = timeout_s
        self._client: aiomqtt.Client | None = None
        self._on_connect: list[Callable[[], None]] = []
        self._announced: dict[str, bool] = {}
        self._watcher: asyncio.Task[None] | None = None
        #: Connections made so far (a test watches the reconnection).
        self.connections = 0

    @property
    def connected(self) -> bool:
        return self._client is not None

    def on_connect(self, callback: Callable[[], None]) -> None:
        self._on_connect.append(callback)

    async def publish(self, messages: Sequence[MqttMessage]) -> None:
        client = self._client
        if client is None:
            raise ConnectionError("not connected to the MQTT broker")
        for message in messages:
            await client.publish(
                message.topic, message.payload, qos=1, retain=message.retain, timeout=self._timeout_s
            )

    async def run(self) -> None:
        delay = 1.0
        s = self.settings
        while True:
            client = aiomqtt.Client(
                s.host,
                s.port,
                identifier=s.client_id,
                username=s.username,
                password=s.password,
                keepalive=s.keepalive_s,
                timeout=self._timeout_s,
                will=aiomqtt.Will(node_topic(s.prefix), OFFLINE, qos=1, retain=True),
                tls_context=_tls(s) if s.tls else None,
            )
            try:
                async with client:
                    await self._connected(client)
                    delay = 1.0
                    try:
                        async for _ in client.messages:  # ends, with MqttError, when the connection drops
                            pass
                    except asyncio.CancelledError:
                        await self._goodbye(client)
                        raise
            except Exception as exc:  # refused, TLS, DNS, a dropped link: each ends in a retry, never a stop
                logger.warning("MQTT broker %s:%s: %s; reconnecting in %.0f s", s.host, s.port, exc, delay)
            finally:
                self._client = None
                if self._watcher is not None:
                    self._watcher.cancel()
                    self._watcher = None
            await asyncio.sleep(delay)
            delay = min(delay * 2, s.reconnect_max_s)

    async def _connected(self, client: aiomqtt.Client) -> None:
        prefix = self.settings.prefix
        await client.publish(node_topic(prefix), ONLINE, qos=1, retain=True, timeout=self._timeout_s)
        self._announced.clear()
        await self._announce_cameras(client)
        self._client = client
        self.connections += 1
        logger.info("MQTT: connected to %s:%s", self.settings.host, self.settings.port)
        for callback in self._on_connect:
            callback()
        if self._cameras is not None:
            self._watcher = asyncio.create_task(self._watch(client), name="mqtt-cameras")

    async def _watch(self, client: aiomqtt.Client) -> None:
        while self._client is client:
            await asyncio.sleep(self._poll_s)
            try:
                await self._announce_cameras(client)
            except aiomqtt.MqttError:
                return  # the connection loop notices the drop and reconnects

    async def _announce_cameras(self, client: aiomqtt.Client) -> None:
        if self._cameras is None:
            return
        for camera_id, online in sorted(self._cameras().items()):
            if self._announced.get(camera_id) is not online:
                message = availability(self.settings.prefix, camera_id, online)
                await client.publish(
                    message.topic, message.payload, qos=1, retain=True, timeout=self._timeout_s
                )
                self._announced[camera_id] = online

    async def _goodbye(self, client: aiomqtt.Client) -> None:
        """A clean disconnect does not fire the will: say "offline" ourselves before leaving."""
        if self._client is not client:
            return
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            await client.publish(node_topic(self.settings.prefix), OFFLINE, qos=1, retain=True, timeout=2)


def _tls(settings: MqttSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=settings.ca_file)


def analysed_cameras(analysis: AnalysisNode) -> CameraStates:
    """Each camera the analysis role runs, online while frames arrive (stalled, offline and the rest: not)."""

    def states() -> dict[str, bool]:
        return {cid: analysis.status(cid).get("state") == ONLINE for cid in list(analysis.cameras)}

    return states
