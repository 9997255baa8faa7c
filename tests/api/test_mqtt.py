"""MQTT out against Debian's mosquitto: the system ``serve`` builds (api.wiring.build_system with the site's
``mqtt:``) publishes each incident change once at QoS 1, loses nothing across a broker restart, and leaves
the centre's and each camera's availability retained for late subscribers."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest
import yaml

from api.auth import AuthConfig
from api.mqtt import MqttLink, MqttSettings
from api.problems import UsageProblem
from api.site import configured_site, demo_site, load_site
from api.wiring import System, build_system
from models.clock import Clock, ManualClock, SystemClock
from models.config import MqttSection
from models.records import Detection
from models.store import Store
from router.notify.mqtt import MqttMessage
from tests.conftest import DEMO_DIR, REPO
from tests.mosquitto import Subscriber, running_broker, subscribed, until
from tests.rig import T0, NoDetector, crowd_output

CAMERA = "cam-dongguan-road"


class EmptyDetector:
    """Sees nothing: the camera runs on real video, its availability is what is under test."""

    name = "empty"
    labels: Mapping[int, str] = MappingProxyType({0: "person"})

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        return [[] for _ in images]


async def mqtt_system(store: Store, port: int, clock: Clock, detector: Any = None) -> System:
    site = demo_site()
    await load_site(store, replace(site, cameras=[replace(c, source="unused.avi") for c in site.cameras]))
    return build_system(
        store,
        detector or NoDetector(),
        clock,
        AuthConfig.for_demo(),
        timezone=site.timezone,
        clip_seconds=None,
        mqtt=MqttSettings("127.0.0.1", port, client_id="gw-test"),
    )


def incident_changes(subscriber: Subscriber) -> list[dict[str, Any]]:
    return [json.loads(p) for p in subscriber.on("gridwatch/incidents")]


async def test_an_opened_incident_arrives_once_with_its_event(tmp_path: Path, store: Store) -> None:
    with running_broker(tmp_path / "broker") as broker:
        async with subscribed(broker.port) as dashboard:
            system = await mqtt_system(store, broker.port, ManualClock(T0))
            await system.start(cameras=[])
            try:
                await system.link.publish(crowd_output(100))  # opens an incident in grid …001
                await system.link.publish(crowd_output(110))  # joins it: an update, not a second opening
                assert await until(lambda: len(dashboard.on(f"gridwatch/{CAMERA}/events")) == 2)
                assert await until(lambda: len(incident_changes(dashboard)) == 2)
            finally:
                await system.stop()
    changes = incident_changes(dashboard)
    counted = Counter((c["incident"]["id"], c["type"]) for c in changes)
    (incident_id,) = {c["incident"]["id"] for c in changes}
    assert counted == {(incident_id, "opened"): 1, (incident_id, "updated"): 1}
    assert {qos for topic, qos in dashboard.qos if topic != "gridwatch/available"} == {1}
    opened = next(c for c in changes if c["type"] == "opened")
    incident = await store.incidents.get(opened["incident"]["id"])
    assert opened["incident"]["grid"] == incident.grid_code and opened["incident"]["kind"] == "crowd"
    assert opened["incident"]["assignee"] == {"id": incident.assignee_id, "name": incident.assignee_name}
    assert opened["incident"]["accept_by"] == incident.accept_by.isoformat()  # type: ignore[union-attr]
    outbox_ids = [r.outbox_id for r in await store.deliveries.of_channel("mqtt:gridwatch")]
    assert sorted(c["id"] for c in changes) == outbox_ids  # the idempotency key is the outbox row
    events = [json.loads(p) for p in dashboard.on(f"gridwatch/{CAMERA}/events")]
    assert [e["incident_opened"] for e in events] == [True, False]
    assert {e["incident_id"] for e in events} == {incident_id}
    assert all(e["event"]["camera"] == CAMERA and e["event"]["kind"] == "crowd" for e in events)
    # The centre said goodbye on stop: its availability is "offline", retained.
    assert dashboard.on("gridwatch/available")[-1:] == [b"offline"]


async def test_a_broker_restart_mid_flow_loses_nothing(tmp_path: Path, store: Store) -> None:
    with running_broker(tmp_path / "broker") as broker:
        async with subscribed(broker.port) as dashboard:
            system = await mqtt_system(store, broker.port, ManualClock(T0))
            await system.start(cameras=[])
            link = system.centre.mqtt_link
            assert link is not None
            try:
                for x in (100, 500, 120):
                    await system.link.publish(crowd_output(x))
                assert await until(lambda: len(incident_changes(dashboard)) >= 3)
                broker.stop()
                # Changes made while the broker is down: they wait in the outbox (deliveries rows).
                for x in (130, 510, 140, 520, 150):
                    await system.link.publish(crowd_output(x))
                assert await until(lambda: not link.connected, 15)
                broker.start()
                assert await until(lambda: link.connections >= 2, 30), broker.log()

                async def all_delivered() -> bool:
                    rows = await store.deliveries.of_channel("mqtt:gridwatch")
                    return len(rows) == 8 and all(r.delivered_at is not None for r in rows)

                for _ in range(300):
                    if await all_delivered() and len(incident_changes(dashboard)) >= 8:
                        break
                    await until(lambda: False, 0.1)
            finally:
                await system.stop()
    rows = await store.deliveries.of_channel("mqtt:gridwatch")
    assert len(rows) == 8 and all(r.delivered_at is not None for r in rows)
    keys = [c["id"] for c in incident_changes(dashboard)]
    # At least once: every change arrived; a repeat (a PUBACK lost in the restart) carries the same key.
    assert set(keys) == {r.outbox_id for r in rows}, keys
    events = [json.loads(p)["id"] for p in dashboard.on(f"gridwatch/{CAMERA}/events")]
    assert set(events) == {r.outbox_id for r in rows}
    opened = Counter(c["incident"]["id"] for c in incident_changes(dashboard) if c["type"] == "opened")
    assert sorted(opened.values()) == [1, 1]  # two grids, two incidents, each opened once


async def test_availability_is_retained_for_a_late_subscriber(
    tmp_path: Path, store: Store, vtest: Path
) -> None:
    with running_broker(tmp_path / "broker") as broker:
        system = await mqtt_system(store, broker.port, SystemClock(), EmptyDetector())
        camera = replace(next(c for c in demo_site().cameras if c.id == CAMERA), source=str(vtest))
        missing = replace(camera, id="cam-missing", source=str(tmp_path / "no-such-video.avi"))
        await system.start(cameras=[camera, missing])
        try:
            async with subscribed(broker.port, identifier="early") as early:
                assert await until(lambda: early.on(f"gridwatch/{CAMERA}/available")[-1:] == [b"online"], 30)
            # Subscribers that come later get the retained state at once, nothing else needed.
            async with subscribed(broker.port, identifier="late", topic="gridwatch/+/available") as late:
                assert await until(lambda: len(late.received) >= 2)
            async with subscribed(broker.port, identifier="node", topic="gridwatch/available") as node:
                assert await until(lambda: bool(node.received))
        finally:
            await system.stop()
        async with subscribed(broker.port, identifier="after", topic="gridwatch/available") as after:
            assert await until(lambda: bool(after.received))
    seen = {topic: (payload, retained) for topic, payload, retained in late.received}
    assert seen == {
        f"gridwatch/{CAMERA}/available": (b"online", True),
        "gridwatch/cam-missing/available": (b"offline", True),
    }
    assert node.received == [("gridwatch/available", b"online", True)]
    # A stopped centre leaves "offline" retained (its goodbye; a crash leaves the same through the will).
    assert after.received == [("gridwatch/available", b"offline", True)]


def test_the_site_file_configures_the_broker_with_credentials_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = yaml.safe_load((REPO / "docs" / "site.example.yaml").read_text(encoding="utf-8"))
    site["cameras"] = []
    site["townships"] = []  # its cameras went with cameras:
    site["notifications"] = []
    site["grids_file"] = str(DEMO_DIR / "grids.geojson")
    site["roster_file"] = str(DEMO_DIR / "roster.csv")
    site["mqtt"] = {
        "host": "broker.example",
        "port": 8883,
        "tls": True,
        "topic_prefix": "county/qinghe",
        "username_env": "GW_MQTT_USER",
        "password_env": "GW_MQTT_PASSWORD",
    }
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("GW_MQTT_USER", "centre")
    monkeypatch.delenv("GW_MQTT_PASSWORD", raising=False)
    with pytest.raises(UsageProblem, match="GW_MQTT_PASSWORD"):
        configured_site(path)
    monkeypatch.setenv("GW_MQTT_PASSWORD", "s3cret")
    loaded, _ = configured_site(path)
    assert loaded.mqtt == MqttSettings(
        "broker.example", 8883, "county/qinghe", "gridwatch", "centre", "s3cret", tls=True
    )
    site["mqtt"]["qos"] = 2  # not a key: refused with the section named
    path.write_text(yaml.safe_dump(site, allow_unicode=True), encoding="utf-8")
    with pytest.raises(UsageProblem, match="qos"):
        configured_site(path)
    assert os.environ["GW_MQTT_USER"] == "centre"


_CENTRE = """
import asyncio, sys
from api.mqtt import MqttLink, MqttSettings
asyncio.run(MqttLink(MqttSettings("127.0.0.1", int(sys.argv[1]), client_id="gw-crash")).run())
"""


async def test_a_centre_that_dies_leaves_its_will_offline(tmp_path: Path) -> None:
    with running_broker(tmp_path / "broker") as broker:
        async with subscribed(broker.port, topic="gridwatch/available") as watcher:
            argv = [sys.executable, "-c", _CENTRE, str(broker.port)]
            centre = await asyncio.create_subprocess_exec(*argv, cwd=REPO)
            try:
                assert await until(lambda: watcher.on("gridwatch/available")[-1:] == [b"online"], 30)
            finally:
                centre.kill()  # no goodbye: the broker publishes the will
                await centre.wait()
            assert await until(lambda: watcher.on("gridwatch/available")[-1:] == [b"offline"], 30)
        async with subscribed(broker.port, identifier="late", topic="gridwatch/available") as late:
            assert await until(lambda: bool(late.received))
    assert late.received == [("gridwatch/available", b"offline", True)]


def _tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for 127.0.0.1 signed by it: (ca, cert, key)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def cert(subject: str, key: Any, issuer: str, signer: Any, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            ip = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
            builder = builder.add_extension(x509.SubjectAlternativeName([ip]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = cert("gridwatch test CA", ca_key, "gridwatch test CA", ca_key, True)
    server_cert = cert("127.0.0.1", server_key, "gridwatch test CA", ca_key, False)
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


async def test_tls_and_credentials_from_the_environment(tmp_path: Path) -> None:
    folder = tmp_path / "broker"
    folder.mkdir()
    ca, certificate, key = _tls_files(folder)
    passwords = folder / "passwd"
    made = await asyncio.create_subprocess_exec(
        "mosquitto_passwd", "-b", "-c", str(passwords), "centre", "right horse battery"
    )
    assert await made.wait() == 0
    extra = (
        f"cafile {ca}\ncertfile {certificate}\nkeyfile {key}\n"
        f"allow_anonymous false\npassword_file {passwords}"
    )
    section = MqttSection(
        host="127.0.0.1", port=1, tls=True, ca_file=ca, username_env="GW_MQTT_USER", password_env="GW_MQTT_PW"
    )
    with running_broker(folder, extra=extra) as broker:
        section = section.model_copy(update={"port": broker.port})
        wrong = MqttLink(MqttSettings.of(section, {"GW_MQTT_USER": "centre", "GW_MQTT_PW": "wrong"}))
        right = MqttLink(
            MqttSettings.of(section, {"GW_MQTT_USER": "centre", "GW_MQTT_PW": "right horse battery"})
        )
        tasks = [asyncio.create_task(wrong.run()), asyncio.create_task(right.run())]
        try:
            assert await until(lambda: right.connected, 20), broker.log()
            await right.publish([MqttMessage("gridwatch/tls-check", b"acknowledged", retain=True)])
            tls = ssl.create_default_context(cafile=str(ca))
            options = {"tls_context": tls, "username": "centre", "password": "right horse battery"}
            async with subscribed(broker.port, topic="gridwatch/#", client_options=options) as reader:
                assert await until(lambda: reader.on("gridwatch/tls-check") == [b"acknowledged"])
                assert reader.on("gridwatch/available") == [b"online"]
            assert not wrong.connected and wrong.connections == 0  # refused, and retrying with backoff
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
