"""Camera-side events (motion, tamper, vendor analytics) as typed values, parsed from ONVIF notifications.

Vendor chaos is data: each known topic maps to a parser in ``TOPIC_PARSERS``; a topic nobody knows
is reported once per subscriber and otherwise ignored, so one odd firmware cannot break the feed.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

logger = logging.getLogger(__name__)

NS_TOPICS = "http://www.onvif.org/ver10/topics"
NS_SCHEMA = "http://www.onvif.org/ver10/schema"
#: Vendor topic namespaces, by the prefix we write them with.
VENDOR_NAMESPACES = {
    "tnsaxis": "http://www.axis.com/2009/event/topics",
    "tnshik": "http://www.hikvision.com/2011/event/topics",
}
_CANONICAL_PREFIX = {NS_TOPICS: "tns1", **{ns: prefix for prefix, ns in VENDOR_NAMESPACES.items()}}


class CameraEventKind(enum.StrEnum):
    MOTION = "motion"
    TAMPER = "tamper"
    #: On-camera analytics beyond motion (people, line crossing, intrusion); ``label`` says which.
    ANALYTICS = "analytics"
    #: The camera lost its own video input (an encoder's analogue input, a sensor fault).
    VIDEO_LOSS = "video_loss"


@dataclass(frozen=True, slots=True)
class CameraEvent:
    """One state change a camera reported; ``active`` False means the condition ended."""

    camera_id: str
    kind: CameraEventKind
    topic: str
    active: bool
    at: datetime
    label: str | None = None
    source: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RawNotification:
    """The parts of a wsnt:NotificationMessage every parser needs, independent of SOAP objects."""

    topic: str
    utc_time: datetime | None
    operation: str | None
    source: Mapping[str, str]
    data: Mapping[str, str]


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"true", "1", "active", "on"}


@dataclass(frozen=True, slots=True)
class TopicParser:
    kind: CameraEventKind
    #: Data item that holds the on/off state; vendors name it differently per topic.
    state_item: str
    label: str | None = None


_M, _T, _A = CameraEventKind.MOTION, CameraEventKind.TAMPER, CameraEventKind.ANALYTICS
_V = CameraEventKind.VIDEO_LOSS

TOPIC_PARSERS: dict[str, TopicParser] = {
    "tns1:VideoSource/MotionAlarm": TopicParser(_M, "State"),
    "tns1:RuleEngine/CellMotionDetector/Motion": TopicParser(_M, "IsMotion"),
    "tns1:RuleEngine/MotionRegionDetector/Motion": TopicParser(_M, "State"),
    "tns1:VideoSource/GlobalSceneChange/ImagingService": TopicParser(_T, "State"),
    "tns1:VideoSource/GlobalSceneChange/AnalyticsService": TopicParser(_T, "State"),
    "tns1:RuleEngine/TamperDetector/Tamper": TopicParser(_T, "IsTamper"),
    "tns1:VideoSource/SignalLoss": TopicParser(_V, "State"),
    "tns1:VideoSource/ImageTooBlurry/ImagingService": TopicParser(_T, "State", "blurry"),
    "tns1:VideoSource/ImageTooDark/ImagingService": TopicParser(_T, "State", "dark"),
    "tns1:RuleEngine/FieldDetector/ObjectsInside": TopicParser(_A, "IsInside", "intrusion"),
    "tns1:RuleEngine/LineDetector/Crossed": TopicParser(_A, "ObjectId", "line_crossing"),
    "tns1:RuleEngine/MyRuleDetector/PeopleDetect": TopicParser(_A, "State", "person"),
    "tns1:RuleEngine/MyRuleDetector/VehicleDetect": TopicParser(_A, "State", "vehicle"),
    "tnsaxis:CameraApplicationPlatform/VMD/Camera1Profile1": TopicParser(_M, "active", "axis_vmd"),
    "tnsaxis:VideoSource/Tampering": TopicParser(_T, "tampering"),
}

#: A line crossing is a moment, not a state: its data carries an object id, never true/false.
_MOMENTARY = {"tns1:RuleEngine/LineDetector/Crossed"}


def canonical_topic(topic: str, nsmap: Mapping[str | None, str]) -> str:
    """Rewrite the topic's prefix to ours (cameras pick prefixes freely; the namespace is what counts)."""
    topic = topic.strip()
    prefix, colon, rest = topic.partition(":")
    if not colon:
        return topic
    namespace = nsmap.get(prefix)
    canonical = _CANONICAL_PREFIX.get(namespace) if namespace else None
    return f"{canonical}:{rest}" if canonical else topic


class EventParser:
    """Turns raw notifications of one camera into CameraEvents; remembers topics it could not map."""

    def __init__(
        self,
        camera_id: str,
        parsers: Mapping[str, TopicParser] | None = None,
        *,
        state_item: Callable[[str], str | None] | None = None,
    ) -> None:
        self.camera_id = camera_id
        self._parsers = dict(TOPIC_PARSERS if parsers is None else parsers)
        #: For topics no parser knows: the data item the site says holds on/off (its vendor analytics).
        self._state_item = state_item
        # When a prefix cannot be resolved (zeep drops the namespace map), match on the topic path.
        self._by_path = {topic.partition(":")[2]: p for topic, p in self._parsers.items()}
        self.unknown_topics: set[str] = set()

    def parse(self, raw: RawNotification, fallback_time: datetime) -> CameraEvent | None:
        parser = self._parsers.get(raw.topic) or self._by_path.get(raw.topic.partition(":")[2])
        if parser is None and self._state_item is not None:
            item = self._state_item(raw.topic)
            parser = TopicParser(CameraEventKind.ANALYTICS, item) if item is not None else None
        if parser is None:
            if raw.topic not in self.unknown_topics:
                self.unknown_topics.add(raw.topic)
                logger.info("camera %s: ignoring unknown event topic %s", self.camera_id, raw.topic)
            return None
        if raw.operation == "Initialized" and raw.topic in _MOMENTARY:
            return None
        value = raw.data.get(parser.state_item)
        if raw.topic in _MOMENTARY:
            active = value is not None
        else:
            if value is None:
                logger.debug(
                    "camera %s: %s without its %s item", self.camera_id, raw.topic, parser.state_item
                )
                return None
            active = _truthy(value)
        return CameraEvent(
            camera_id=self.camera_id,
            kind=parser.kind,
            topic=raw.topic,
            active=active,
            at=raw.utc_time or fallback_time,
            label=parser.label,
            source=dict(raw.source),
            data=dict(raw.data),
        )


def _element_items(element: Any, path: str) -> dict[str, str]:
    items: dict[str, str] = {}
    container = element.find(f"{{{NS_SCHEMA}}}{path}")
    if container is None:
        return items
    for item in container.iter(f"{{{NS_SCHEMA}}}SimpleItem"):
        name = item.get("Name")
        if name is not None:
            items[name] = item.get("Value", "")
    return items


def _object_items(message: Any, path: str) -> dict[str, str]:
    container = getattr(message, path, None)
    items = getattr(container, "SimpleItem", None) or []
    return {str(i.Name): str(i.Value if i.Value is not None else "") for i in items if i.Name is not None}


def raw_from_zeep(message: Any, parse_time: Callable[[str], datetime | None]) -> RawNotification:
    """Read a zeep NotificationMessageHolderType; raises ValueError when it has no usable parts.

    zeep hands the tt:Message over as a typed object when it knows the schema (the usual case) and
    as a bare lxml element when a camera adds something the schema lacks; both are read here.
    """
    topic_text = getattr(getattr(message, "Topic", None), "_value_1", None)
    body = getattr(getattr(message, "Message", None), "_value_1", None)
    if not isinstance(topic_text, str) or body is None:
        raise ValueError("notification without a topic or a tt:Message body")
    if hasattr(body, "nsmap"):
        utc = body.get("UtcTime")
        return RawNotification(
            topic=canonical_topic(topic_text, body.nsmap),
            utc_time=parse_time(utc) if utc else None,
            operation=body.get("PropertyOperation"),
            source=_element_items(body, "Source"),
            data=_element_items(body, "Data"),
        )
    at = getattr(body, "UtcTime", None)
    return RawNotification(
        topic=canonical_topic(topic_text, {}),
        utc_time=at if isinstance(at, datetime) else (parse_time(at) if isinstance(at, str) else None),
        operation=getattr(body, "PropertyOperation", None),
        source=_object_items(body, "Source"),
        data=_object_items(body, "Data"),
    )
