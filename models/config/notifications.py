"""``notifications:``: where new incidents are announced; every secret is named by an ``_env`` key."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from models.config.base import ConfigModel, EnvName


class WebhookTarget(ConfigModel):
    type: Literal["webhook"] = Field(title="Type", description="Plain HTTPS POST of the incident as JSON.")
    url: str = Field(pattern=r"^https?://\S+$", title="URL", description="Where incidents are POSTed.")
    secret_env: EnvName | None = Field(
        default=None,
        title="Signing secret",
        description="Environment variable holding the HMAC signing secret.",
    )


class WeComTarget(ConfigModel):
    type: Literal["wecom"] = Field(title="Type", description="WeCom (企业微信) group robot.")
    webhook_url_env: EnvName = Field(
        title="Robot URL",
        description="Environment variable holding the robot webhook URL (it embeds the key).",
    )
    messages_per_minute: int = Field(
        default=20,
        ge=1,
        le=20,
        title="Messages a minute",
        description="Requests sent to the robot in any minute; beyond it, one digest per grid. The robot "
        "itself takes 20 and then mutes for 10 minutes.",
    )


class DingTalkTarget(ConfigModel):
    type: Literal["dingtalk"] = Field(title="Type", description="DingTalk (钉钉) group robot.")
    webhook_url_env: EnvName = Field(
        title="Robot URL",
        description="Environment variable holding the robot webhook URL (it embeds the token).",
    )
    secret_env: EnvName | None = Field(
        default=None,
        title="Signing secret",
        description="Environment variable holding the robot's SEC… secret.",
    )
    messages_per_minute: int = Field(
        default=20,
        ge=1,
        le=20,
        title="Messages a minute",
        description="Requests sent to the robot in any minute; beyond it, one digest per grid. The robot "
        "itself takes 20 and then mutes for 10 minutes.",
    )


NotificationTarget = Annotated[WebhookTarget | WeComTarget | DingTalkTarget, Field(discriminator="type")]
