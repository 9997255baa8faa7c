"""What a camera's own events (ONVIF topics) mean to gridwatch: a topic table shared by both roles.

The analysis role subscribes to each ONVIF camera's events and forwards what it hears; the centre looks
each topic up here and opens an incident of the mapped kind, attaches the event to the camera's open
incident, or ignores it. The site YAML's ``camera_events:`` rules come first, then ``DEFAULT_RULES``
(tamper opens a tamper incident, video loss a camera-offline one), so a site overrides a default by
writing a rule for the same topic.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from models.records import EventKind


class EventAction(enum.StrEnum):
    #: Open an incident of the rule's kind (or fold into the open one with the same dedup key).
    OPEN = "open"
    #: Add the event as context to the camera's open incident; nothing when it has none.
    ATTACH = "attach"
    IGNORE = "ignore"


#: The words a rule's ``kind`` may hold besides a gridwatch event kind.
ATTACH = "attach"
IGNORE = "ignore"


@dataclass(frozen=True, slots=True)
class CameraEventRule:
    """Topics matching ``topic`` (a glob: ``*`` any run of characters) are handled by ``action``."""

    topic: str
    action: EventAction
    kind: EventKind | None = None
    #: The data item that says on/off, for a topic gridwatch does not know (a vendor's analytics).
    state_item: str | None = None

    def matches(self, topic: str) -> bool:
        return fnmatchcase(topic, self.topic)


def rule(topic: str, kind: str, state_item: str | None = None) -> CameraEventRule:
    """A rule from the YAML's words: a kind's value, ``attach`` or ``ignore``; ValueError otherwise."""
    if kind == ATTACH:
        return CameraEventRule(topic, EventAction.ATTACH, None, state_item)
    if kind == IGNORE:
        return CameraEventRule(topic, EventAction.IGNORE, None, state_item)
    return CameraEventRule(topic, EventAction.OPEN, EventKind(kind), state_item)


#: The standard ONVIF tamper and video-loss topics (and Axis's tamper topic) open maintenance incidents.
DEFAULT_RULES: tuple[CameraEventRule, ...] = (
    CameraEventRule("tns1:RuleEngine/TamperDetector/Tamper", EventAction.OPEN, EventKind.CAMERA_TAMPER),
    CameraEventRule("tns1:VideoSource/GlobalSceneChange/*", EventAction.OPEN, EventKind.CAMERA_TAMPER),
    CameraEventRule("tnsaxis:VideoSource/Tampering", EventAction.OPEN, EventKind.CAMERA_TAMPER),
    # The picture is gone exactly as when the stream drops: the same kind, so one outage is one incident.
    CameraEventRule("tns1:VideoSource/SignalLoss", EventAction.OPEN, EventKind.CAMERA_OFFLINE),
)


class CameraEventTable:
    """The site's rules, then the defaults; the first rule whose pattern matches a topic decides."""

    def __init__(self, rules: Iterable[CameraEventRule] = (), *, defaults: bool = True) -> None:
        self.site_rules: tuple[CameraEventRule, ...] = tuple(rules)
        self.rules: tuple[CameraEventRule, ...] = self.site_rules + (DEFAULT_RULES if defaults else ())

    def lookup(self, topic: str) -> CameraEventRule | None:
        return next((r for r in self.rules if r.matches(topic)), None)

    def state_item(self, topic: str) -> str | None:
        """The data item a site rule names for topic, for topics the event parser does not know."""
        found = self.lookup(topic)
        return found.state_item if found is not None else None
