"""``townships:``: which township's nodes analyse each camera, and which cameras are pinned to one node.

In a county (``gridwatch centre`` with ``gridwatch node`` per township, docs/deploy.md) the nodes of a
township share its cameras by leases. A camera listed under no township goes to the township its picture
covers (its calibration's grids); listing it says so outright, for a camera on a border or placed by hand.
A camera pinned to a node runs only on that node: a camera its network reaches from one machine only, or a
heavy one kept off the others. A pinned camera does not move when its node dies.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field

from models.config.base import ConfigModel

#: A township code or node name: one NATS subject token (api/nats names buckets and streams after them).
TOKEN = r"^[A-Za-z0-9_-]{1,64}$"


class TownshipNodeConfig(ConfigModel):
    name: str = Field(
        pattern=TOKEN,
        title="Node name",
        description="The node's --name: letters, digits, '-' and '_'.",
    )
    cameras: list[str] = Field(
        default_factory=list,
        title="Pinned cameras",
        description="Camera ids only this node runs (never shared, never moved), of its own township.",
    )


class TownshipConfig(ConfigModel):
    code: str = Field(
        pattern=TOKEN,
        title="Township code",
        description="The township's code (its units' 9-digit prefix), as gridwatch node --township names it.",
    )
    name: str | None = Field(default=None, title="Name", description="What people call the township.")
    cameras: list[str] = Field(
        default_factory=list,
        title="Cameras",
        description="Camera ids this township's nodes share by leases.",
    )
    nodes: list[TownshipNodeConfig] = Field(
        default_factory=list,
        title="Nodes",
        description="Named nodes of the township and the cameras pinned to each; a node not listed takes "
        "a share of the unpinned cameras.",
    )

    def all_cameras(self) -> list[str]:
        """Its cameras, pinned ones included."""
        return [*self.cameras, *(c for node in self.nodes for c in node.cameras)]


def township_problems(townships: list[TownshipConfig], camera_ids: set[str] | None) -> list[str]:
    """Cross-references the schema cannot see: known cameras, none in two townships or on two nodes."""
    problems: list[str] = []
    seen_codes: set[str] = set()
    seen_nodes: set[str] = set()
    owner: dict[str, str] = {}
    for t, township in enumerate(townships):
        if township.code in seen_codes:
            problems.append(f"townships[{t}].code: township {township.code} is listed twice")
        seen_codes.add(township.code)
        places = [(f"townships[{t}].cameras", c) for c in township.cameras]
        for n, node in enumerate(township.nodes):
            if node.name in seen_nodes:
                problems.append(f"townships[{t}].nodes[{n}].name: node {node.name!r} is named twice")
            seen_nodes.add(node.name)
            places += [(f"townships[{t}].nodes[{n}].cameras", c) for c in node.cameras]
        for where, camera in places:
            if camera_ids is not None and camera not in camera_ids:
                problems.append(f"{where}: no camera {camera!r} in cameras:")
            elif camera in owner:
                problems.append(f"{where}: camera {camera!r} is already placed at {owner[camera]}")
            else:
                owner[camera] = where
    return problems


def camera_townships(townships: list[TownshipConfig]) -> Mapping[str, str]:
    """Camera id → the township code that runs it, for the cameras the section lists."""
    return {camera: t.code for t in townships for camera in t.all_cameras()}


def camera_pins(townships: list[TownshipConfig]) -> Mapping[str, str]:
    """Camera id → the node it is pinned to."""
    return {camera: node.name for t in townships for node in t.nodes for camera in node.cameras}
