"""``clips:``: the short video kept as evidence around each event's start."""

from __future__ import annotations

from pydantic import Field

from models.config.base import ConfigModel


class ClipsSection(ConfigModel):
    """Event clips: the analysed frames around each event's start, kept as evidence (H.264 MP4)."""

    enabled: bool = Field(
        default=True, title="Enabled", description="false: events keep their snapshots only."
    )
    pre_seconds: float = Field(
        default=5.0,
        ge=0,
        le=30,
        title="Seconds before",
        description="How much of what led up to the event's start the clip shows. Each camera buffers "
        "this much (JPEG, ~50 KB a frame at the analysis rate).",
    )
    post_seconds: float = Field(
        default=5.0,
        ge=0,
        le=30,
        title="Seconds after",
        description="How long after the start the clip runs; it is attached when this has passed.",
    )
