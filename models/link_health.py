"""The health of the county link as the centre sees it: one row per township, one per node.

A read model, filled by the centre's link monitor (api/nats/health.py) in ``gridwatch centre`` and by the one
local township of ``serve`` and ``demo`` (api/health.py); the API, the wall and ``/metrics`` read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

#: The township ``serve`` and ``demo`` report: both roles in one process, no link to lose.
LOCAL_TOWNSHIP = "local"


@dataclass(frozen=True, slots=True)
class NodeHealth:
    node_id: str
    township: str
    cameras: int
    cameras_down: int
    analysed_fps: float
    load: float
    #: When the centre last heard the node (its clock), and how long ago that was.
    last_seen: datetime
    age_s: float
    #: The node's clock minus the centre's, net of the transport latency estimate; ``skewed`` past the
    #: site's threshold.
    skew_s: float
    skewed: bool
    #: Not heard for three of its heartbeat periods: the node (or its process) is gone.
    stale: bool = False


@dataclass(frozen=True, slots=True)
class TownshipHealth:
    code: str
    link_up: bool
    #: When the link last changed state (or the centre started watching it).
    since: datetime
    #: Messages the township's stream holds that the centre has not yet handled.
    lag_messages: int
    #: Seconds since the centre last held everything the township had published (0 when it does now).
    lag_s: float
    #: Seconds since the centre last received a message from the township's stream (None: none yet).
    last_message_age_s: float | None
    #: Round trip of the centre's last probe of the township's server, seconds (None: no answer yet).
    rtt_s: float | None
    #: Camera-offline reports folded into the link problem instead of opening incidents of their own.
    offline_folded: int = 0
    nodes: tuple[NodeHealth, ...] = field(default_factory=tuple)


class LinkHealth(Protocol):
    def townships(self) -> list[TownshipHealth]:
        """Every township the centre takes events from, by code."""
        ...
