"""A real Debian mosquitto on a free loopback port, with persistence, that a test can restart; and a
subscriber that keeps its session (clean_session off) across the broker's restarts, as a dashboard would."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt
import pytest

from tests.servers import free_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


@dataclass
class Broker:
    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    #: More mosquitto.conf lines for the listener (TLS files, a password file).
    extra: str = ""

    def start(self) -> None:
        config = self.directory / "mosquitto.conf"
        # As root, mosquitto would drop to the user "mosquitto", who cannot write the test's folder.
        user = "user root\n" if os.geteuid() == 0 else ""
        config.write_text(
            f"listener {self.port} 127.0.0.1\n{self.extra or 'allow_anonymous true'}\n{user}"
            f"persistence true\npersistence_location {self.directory}/\n"
            f"log_dest file {self.directory}/mosquitto.log\nlog_type all\n",
            encoding="utf-8",
        )
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(config)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError(f"mosquitto did not listen:\n{self.log()}")

    def stop(self) -> None:
        """SIGTERM: mosquitto saves its persistence (sessions, queued and retained messages) and exits."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def log(self) -> str:
        path = self.directory / "mosquitto.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


@contextlib.contextmanager
def running_broker(directory: Path, extra: str = "") -> Iterator[Broker]:
    if not Path(MOSQUITTO).exists():
        pytest.skip("Debian's mosquitto is not installed (./run setup)")
    directory.mkdir(parents=True, exist_ok=True)
    broker = Broker(free_port(), directory, extra=extra)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@dataclass
class Subscriber:
    """Collects (topic, payload, retained) of everything under ``topic`` at QoS 1, reconnecting forever."""

    port: int
    topic: str = "gridwatch/#"
    identifier: str = "test-dashboard"
    received: list[tuple[str, bytes, bool]] = field(default_factory=list)
    connections: int = 0
    #: (topic, QoS) of each message received, as the broker delivered it.
    qos: list[tuple[str, int]] = field(default_factory=list)
    #: More aiomqtt.Client arguments (TLS, credentials).
    client_options: dict[str, object] = field(default_factory=dict)

    async def run(self) -> None:
        while True:
            try:
                client = aiomqtt.Client(
                    "127.0.0.1",
                    self.port,
                    identifier=self.identifier,
                    clean_session=False,
                    timeout=5,
                    **self.client_options,  # type: ignore[arg-type]
                )
                async with client:
                    await client.subscribe(self.topic, qos=1)
                    self.connections += 1
                    async for message in client.messages:
                        self.received.append((str(message.topic), bytes(message.payload), message.retain))  # type: ignore[arg-type]
                        self.qos.append((str(message.topic), message.qos))
            except aiomqtt.MqttError:
                await asyncio.sleep(0.2)

    def on(self, topic: str) -> list[bytes]:
        return [payload for t, payload, _ in self.received if t == topic]


@contextlib.asynccontextmanager
async def subscribed(port: int, **options: object) -> AsyncIterator[Subscriber]:
    subscriber = Subscriber(port, **options)  # type: ignore[arg-type]
    task = asyncio.create_task(subscriber.run())
    try:
        for _ in range(100):
            if subscriber.connections:
                break
            await asyncio.sleep(0.05)
        assert subscriber.connections, "the test subscriber could not connect"
        yield subscriber
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(predicate: object, timeout_s: float = 20.0) -> bool:
    """Await until ``predicate()`` is truthy (polling), False on time-out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.05)
    return False


def retained_now(port: int, topics: list[str], timeout_s: float = 30.0) -> dict[str, bytes]:
    """What a subscriber arriving now receives on ``topics`` (the retained messages), from a blocking test."""
    import paho.mqtt.client as paho

    got: dict[str, bytes] = {}
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"late-{port}")
    client.on_message = lambda _c, _u, message: got.__setitem__(message.topic, message.payload)
    client.connect("127.0.0.1", port)
    for topic in topics:
        client.subscribe(topic, qos=1)
    client.loop_start()
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not all(t in got for t in topics):
            time.sleep(0.1)
    finally:
        client.loop_stop()
        client.disconnect()
    return got
