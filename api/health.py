"""A node's own load, as its heartbeat carries it, and the one local township of ``serve`` and ``demo``.

No NATS here: ``serve`` and ``demo`` import this module, and they never load the NATS client.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from detect.analysis.node import AnalysisNode
from ingest.offline import DOWN_STATES
from models.clock import Clock
from models.link import NodeHeartbeat
from models.link_health import LOCAL_TOWNSHIP, NodeHealth, TownshipHealth


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:  # not every platform has one; the heartbeat then says 0
        return 0.0


class NodeLoad:
    """Cameras held and frames analysed per second since the last reading, off the node's live views."""

    def __init__(
        self,
        analysis: AnalysisNode,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        load: Callable[[], float] = load_average,
    ) -> None:
        self._analysis = analysis
        self._monotonic = monotonic
        self._load = load
        self._last: tuple[float, int] | None = None
        self.fps = 0.0

    def heartbeat(self, node_id: str, township: str, clock: Clock, every_s: float = 5.0) -> NodeHeartbeat:
        # The cameras it holds (assigned to it, by command or lease), whether or not their picture comes.
        running = sorted(self._analysis.cameras)
        frames = sum(view.analysed_frames for view in self._analysis.live.values())
        now = self._monotonic()
        if self._last is not None and now > self._last[0]:
            # A camera stopped meanwhile takes its count with it: never report a negative rate.
            self.fps = max(0.0, (frames - self._last[1]) / (now - self._last[0]))
        self._last = (now, frames)
        down = []
        for camera_id in running:
            view = self._analysis.live.get(camera_id)
            source = view.source if view is not None else None
            if source is not None and source.health.state in DOWN_STATES:
                down.append(camera_id)
        return NodeHeartbeat(
            node_id=node_id,
            township=township,
            cameras=len(running),
            analysed_fps=round(self.fps, 2),
            load=round(self._load(), 2),
            sent_at=clock.now(),
            cameras_down=tuple(down),
            every_s=every_s,
        )


class LocalHealth:
    """``serve`` and ``demo``: one township, both roles in this process, so the link is always up, with no
    lag and no skew; its one node is this process's analysis role."""

    def __init__(self, analysis: AnalysisNode, clock: Clock, *, node_id: str = LOCAL_TOWNSHIP) -> None:
        self._load = NodeLoad(analysis)
        self._clock = clock
        self._node_id = node_id
        self._since = clock.now()

    def townships(self) -> list[TownshipHealth]:
        beat = self._load.heartbeat(self._node_id, LOCAL_TOWNSHIP, self._clock)
        node = NodeHealth(
            node_id=beat.node_id,
            township=LOCAL_TOWNSHIP,
            cameras=beat.cameras,
            cameras_down=len(beat.cameras_down),
            analysed_fps=beat.analysed_fps,
            load=beat.load,
            last_seen=beat.sent_at,
            age_s=0.0,
            skew_s=0.0,
            skewed=False,
        )
        return [
            TownshipHealth(
                code=LOCAL_TOWNSHIP,
                link_up=True,
                since=self._since,
                lag_messages=0,
                lag_s=0.0,
                last_message_age_s=None,
                rtt_s=0.0,
                nodes=(node,),
            )
        ]
