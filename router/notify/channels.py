"""Where notifications go: each configured target resolved to a channel, its secrets from the environment."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from models.config import DingTalkTarget, NotificationTarget, WebhookTarget, WeComTarget


@dataclass(frozen=True, slots=True)
class Channel:
    #: Stable across restarts (it keys the deliveries table) and free of secrets (it is logged).
    name: str
    kind: str  # webhook | wecom | dingtalk
    url: str
    secret: str | None = None
    #: Requests allowed in any minute (chat robots; None: no limit of ours).
    per_minute: int | None = None
    #: The console's address; messages link to each case there (site.public_url).
    case_url: str | None = None


def channels_from_targets(targets: Sequence[NotificationTarget], environ: Mapping[str, str]) -> list[Channel]:
    """Resolve each configured target's secrets from the environment; KeyError names a missing variable."""

    def env(name: str) -> str:
        if name not in environ:
            raise KeyError(f"environment variable {name} is not set (needed by a notification target)")
        return environ[name]

    channels: list[Channel] = []
    for target in targets:
        if isinstance(target, WebhookTarget):
            digest = hashlib.sha256(target.url.encode()).hexdigest()[:12]
            secret = env(target.secret_env) if target.secret_env else None
            channels.append(Channel(f"webhook:{digest}", "webhook", target.url, secret))
        elif isinstance(target, WeComTarget):
            url = env(target.webhook_url_env)
            channels.append(
                Channel(f"wecom:{target.webhook_url_env}", "wecom", url, None, target.messages_per_minute)
            )
        elif isinstance(target, DingTalkTarget):
            secret = env(target.secret_env) if target.secret_env else None
            name = f"dingtalk:{target.webhook_url_env}"
            url = env(target.webhook_url_env)
            channels.append(Channel(name, "dingtalk", url, secret, target.messages_per_minute))
    return channels
