"""The county link's health: each township's link and stream lag, each node's cameras, load and clock."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from api.deps import ContextDep, CurrentPrincipal
from models.link_health import LinkHealth, TownshipHealth

router = APIRouter(tags=["health"])


class NodeHealthOut(BaseModel):
    node_id: str
    township: str
    cameras: int = Field(description="Cameras the node runs now.")
    cameras_down: int = Field(description="Of those, cameras whose picture is gone.")
    analysed_fps: float = Field(description="Frames analysed per second, all its cameras together.")
    load: float = Field(description="The node machine's 1-minute load average.")
    last_seen: datetime
    age_s: float = Field(description="Seconds since the centre last heard the node.")
    skew_s: float = Field(description="The node's clock minus the centre's, net of transport latency.")
    skewed: bool = Field(
        description="Whether the skew is past the site's threshold (link.skew_flag_seconds)."
    )
    stale: bool = Field(description="Not heard for three of its heartbeat periods: gone.")


class TownshipHealthOut(BaseModel):
    code: str
    link_up: bool
    since: datetime = Field(description="When the link last changed state, or watching began.")
    lag_messages: int = Field(description="Messages of the township's stream the centre has not handled.")
    lag_s: float = Field(description="Seconds since the centre last held all the township had published.")
    last_message_age_s: float | None = Field(description="Seconds since a message last came from it.")
    rtt_s: float | None = Field(description="Round trip of the last probe of the township's server.")
    offline_folded: int = Field(description="Camera-offline reports folded into its link problem.")
    nodes: list[NodeHealthOut]


def link_health(ctx: ContextDep) -> LinkHealth:
    if ctx.link_health is None:
        raise HTTPException(503, "this process does not watch the county link")
    return ctx.link_health


def rows(health: LinkHealth) -> list[TownshipHealth]:
    return health.townships()


@router.get("/api/health/townships", response_model=list[TownshipHealthOut])
async def townships(ctx: ContextDep, principal: CurrentPrincipal) -> list[TownshipHealthOut]:
    """Every township the centre takes events from (``serve``: one, ``local``, always up, no lag)."""
    return [TownshipHealthOut.model_validate(asdict(row)) for row in rows(link_health(ctx))]
