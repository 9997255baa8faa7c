"""``camera_events:`` and a camera's ``onvif:``: which cameras' own events gridwatch subscribes to, and
what each topic means (models.camera_events holds the table both roles read)."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import unquote, urlsplit

from pydantic import Field, field_validator

from models.camera_events import ATTACH, IGNORE, CameraEventRule, rule
from models.config.base import ConfigModel
from models.records import EventKind, OnvifEndpoint
from models.secrets import is_placeholder

#: What a rule's kind may say, in the order the error message lists them.
RULE_KINDS = (*(kind.value for kind in EventKind), ATTACH, IGNORE)
#: PREFIX:Path/To/Topic, where the path may hold '*' globs; no spaces (cameras never send any).
_TOPIC = re.compile(r"^[A-Za-z][\w.-]*:[^\s:]+$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:]+\]?$")


class CameraEventRuleConfig(ConfigModel):
    topic: str = Field(
        title="Topic",
        description="The ONVIF topic, e.g. tns1:RuleEngine/FieldDetector/ObjectsInside; '*' matches any run "
        "of characters (tns1:VideoSource/GlobalSceneChange/*).",
    )
    kind: str = Field(
        title="Kind",
        description="The gridwatch event kind it opens (crowd, occupation, camera_tamper…), 'attach' to add "
        "the event to the camera's open incident, or 'ignore'.",
    )
    state_item: Annotated[str, Field(pattern=r"^\w[\w.-]*$")] | None = Field(
        default=None,
        title="State item",
        description="The notification's data item that says on/off (State, IsMotion…); needed for vendor "
        "topics gridwatch does not know.",
    )

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        if _TOPIC.fullmatch(value) is None:
            raise ValueError(
                f"{value!r} is not a topic: write PREFIX:Path/To/Topic, "
                "e.g. tns1:RuleEngine/TamperDetector/Tamper"
            )
        return value

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in RULE_KINDS:
            raise ValueError(f"unknown kind {value!r}; use one of {', '.join(RULE_KINDS)}")
        return value

    def to_rule(self) -> CameraEventRule:
        return rule(self.topic, self.kind, self.state_item)


class OnvifConfig(ConfigModel):
    """The camera's ONVIF device service, for its events (motion, tamper, on-camera analytics)."""

    host: str | None = Field(
        default=None,
        title="Host",
        description="Address of the device service; unset: the host of the camera's rtsp:// source.",
    )
    port: int = Field(default=80, ge=1, le=65535, title="Port", description="Port of the device service.")
    user: str | None = Field(
        default=None,
        min_length=1,
        title="User",
        description="ONVIF user; unset: the user of the camera's rtsp:// source.",
    )
    password: str | None = Field(
        default=None,
        title="Password",
        description="Only as ${ENV_VAR}, the variable holding it; unset: the password placeholder of the "
        "camera's rtsp:// source.",
    )
    events: bool = Field(
        default=True,
        title="Events",
        description="false: do not subscribe to this camera's events.",
    )

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is not None and _HOST.fullmatch(value) is None:
            raise ValueError(f"{value!r} is not a host name or IP address (no scheme, no port: use port:)")
        return value

    @field_validator("password")
    @classmethod
    def _placeholder(cls, value: str | None) -> str | None:
        if value is not None and not is_placeholder(value):
            raise ValueError(
                "holds an inline password; write password: ${CAM_PASSWORD} "
                "and set CAM_PASSWORD in the environment"
            )
        return value

    def endpoint(self, source: str) -> OnvifEndpoint | None:
        """Where to reach the camera, filling what is unset from its stream URL; None without a host."""
        parts = urlsplit(source) if "://" in source else None
        host = self.host or (parts.hostname if parts is not None else None)
        if host is None:
            return None
        user = self.user
        password = self.password
        if parts is not None and (user is None or password is None):
            userinfo = parts.netloc.rpartition("@")[0]
            source_user, _, source_password = userinfo.partition(":")
            user = user if user is not None else (unquote(source_user) or None)
            if password is None and is_placeholder(source_password):
                password = source_password
        return OnvifEndpoint(host, self.port, user, password, self.events)


CameraEventRules = list[CameraEventRuleConfig]
