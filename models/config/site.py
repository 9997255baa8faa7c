"""``site:``: which county or district this installation serves, its time zone and camera network."""

from __future__ import annotations

import ipaddress
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from models.config.base import ConfigModel


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as 'Asia/Shanghai')") from None
    return name


class SiteSection(ConfigModel):
    name: str = Field(min_length=1, title="Site name", description="Shown in the console and in messages.")
    timezone: str = Field(
        default="Asia/Shanghai",
        title="Time zone",
        description="IANA time zone of the roster's wall-clock times.",
    )
    camera_subnets: list[str] = Field(
        default_factory=list,
        title="Camera subnets",
        description="CIDR networks the cameras live on, e.g. 192.168.10.0/24; used to find ONVIF cameras.",
    )

    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://\S+$",
        title="Public address",
        description="Where people reach this centre's console, e.g. https://gridwatch.example.gov.cn; "
        "chat-robot and webhook messages link to each case there.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return _check_timezone(value)

    @field_validator("camera_subnets")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for subnet in value:
            try:
                ipaddress.ip_network(subnet)
            except ValueError as error:
                raise ValueError(f"{subnet!r} is not a network: {error}") from None
        return value
