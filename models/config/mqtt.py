"""``mqtt:``: incidents, events and availability published to the centre's broker (Frigate-style topics)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from models.config.base import ConfigModel, EnvName


class MqttSection(ConfigModel):
    """An MQTT broker the centre publishes to at QoS 1: ``<prefix>/incidents``, ``<prefix>/<camera>/events``,
    ``<prefix>/<camera>/available`` and ``<prefix>/available`` (the last two retained)."""

    host: str = Field(min_length=1, title="Host", description="The broker's host name or address.")
    port: int = Field(default=1883, ge=1, le=65535, title="Port", description="1883, or 8883 with TLS.")
    topic_prefix: str = Field(
        default="gridwatch",
        pattern=r"^[^#+\s]+$",
        title="Topic prefix",
        description="First level of every topic; no MQTT wildcards.",
    )
    client_id: str = Field(
        default="gridwatch",
        min_length=1,
        max_length=23,
        title="Client id",
        description="Unique per broker: two centres with one id would keep disconnecting each other.",
    )
    username_env: EnvName | None = Field(
        default=None, title="User name", description="Environment variable holding the broker user name."
    )
    password_env: EnvName | None = Field(
        default=None, title="Password", description="Environment variable holding the broker password."
    )
    tls: bool = Field(default=False, title="TLS", description="Connect over TLS.")
    ca_file: Path | None = Field(
        default=None,
        title="CA file",
        description="PEM bundle that signs the broker's certificate (default: the system's).",
    )
    keepalive_seconds: int = Field(
        default=30, ge=5, le=3600, title="Keep-alive", description="Seconds between pings."
    )
    reconnect_max_seconds: float = Field(
        default=60.0,
        ge=1.0,
        le=3600.0,
        title="Longest reconnect delay",
        description="Reconnects back off from one second, doubling up to this.",
    )
