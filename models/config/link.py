"""``link:``: how the county centre watches its townships' links and nodes (``gridwatch centre``/``node``)."""

from __future__ import annotations

from pydantic import Field

from models.config.base import ConfigModel


class LinkSection(ConfigModel):
    """The county link's health: heartbeats, when a township's link counts as down, clock skew."""

    heartbeat_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        title="Heartbeat",
        description="Seconds between a node's heartbeats (its cameras, load and clock) to the centre.",
    )
    probe_seconds: float = Field(
        default=2.0,
        gt=0,
        le=60,
        title="Probe",
        description="Seconds between the centre's probes of each township's server.",
    )
    down_after_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        title="Down after",
        description="Seconds without an answer from a township's server before its link counts as down "
        "(one link incident; its cameras' offline reports fold into it).",
    )
    skew_flag_seconds: float = Field(
        default=2.0,
        gt=0,
        le=3600,
        title="Clock skew flag",
        description="Seconds a node's clock may differ from the centre's before it is flagged.",
    )
