"""MQTT topics and payloads (router/notify/mqtt.py): one level per camera, the change type per outbox row."""

from __future__ import annotations

import pytest

from router.notify.mqtt import availability, change_type, node_topic, topic_level


@pytest.mark.parametrize(
    ("camera", "level"),
    [("cam-1", "cam-1"), ("a/b", "a_b"), ("x+y#z", "x_y_z"), ("with space", "with_space"), ("", "_")],
)
def test_a_camera_id_is_one_topic_level_without_wildcards(camera: str, level: str) -> None:
    assert topic_level(camera) == level


@pytest.mark.parametrize(
    ("topic", "state", "kind"),
    [
        ("incident.opened", None, "opened"),
        ("incident.updated", None, "updated"),
        ("incident.updated", "accepted", "updated"),
        ("incident.updated", "closed", "closed"),
        ("incident.updated", "rejected", "closed"),
        ("incident.escalated", None, "updated"),
        ("incident.reopened", "reopened", "updated"),
    ],
)
def test_the_change_type_follows_the_row(topic: str, state: str | None, kind: str) -> None:
    assert change_type(topic, state) == kind


def test_availability_is_retained_under_the_prefix() -> None:
    message = availability("county/qinghe", "cam/7", online=False)
    assert message.topic == "county/qinghe/cam_7/available"
    assert (message.payload, message.retain) == (b"offline", True)
    assert node_topic("gw") == "gw/available"
