"""Which node of a township analyses which camera: a fair share every node computes alone.

There is no coordinator. Each node sees the same live members and the same cameras (through the lease
bucket, api/nats/leases.py) and computes the same assignment from them, so a node that joins takes a share
and the share of a node that dies goes to the others, each node knowing its own part without asking.

The assignment is rendezvous hashing with bounded loads: every (member, camera) pair has a stable score, the
pairs are taken best first, and a camera goes to the best-scoring member that still has room. Rooms are
sized so that the shares differ by at most one camera; plain rendezvous hashing leaves shares as uneven as
chance makes them (10 cameras over 3 nodes splits 6/3/1 often enough to matter), and a node sized for 40
cameras must not be handed 60. A member that joins or leaves moves about its own share of cameras, plus
the few that the rebalanced room sizes push along.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping


def score(member: str, camera: str) -> int:
    """The pair's stable score: the same in every process and on every machine (unlike ``hash``)."""
    digest = hashlib.blake2b(f"{member}\x00{camera}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _rank(member: str) -> int:
    return int.from_bytes(hashlib.blake2b(member.encode(), digest_size=8, person=b"gw-room").digest(), "big")


def assign(cameras: Iterable[str], members: Iterable[str]) -> Mapping[str, frozenset[str]]:
    """Each member's cameras: every camera once, shares differing by at most one, the same result for
    the same sets in any order. No members: an empty mapping (nobody analyses anything)."""
    cams = sorted(set(cameras))
    nodes = sorted(set(members))
    if not nodes:
        return {}
    base, extra = divmod(len(cams), len(nodes))
    # Which members carry the one extra camera: a fixed order of members, so it is the same on every node.
    by_rank = sorted(nodes, key=lambda m: (_rank(m), m))
    room = {m: base + (1 if i < extra else 0) for i, m in enumerate(by_rank)}
    pairs = sorted(((score(m, c), m, c) for m in nodes for c in cams), reverse=True)
    owner: dict[str, str] = {}
    for _, member, camera in pairs:
        if camera not in owner and room[member] > 0:
            owner[camera] = member
            room[member] -= 1
            if len(owner) == len(cams):
                break
    shares: dict[str, set[str]] = {m: set() for m in nodes}
    for camera, member in owner.items():
        shares[member].add(camera)
    return {m: frozenset(s) for m, s in shares.items()}


def share_of(member: str, cameras: Iterable[str], members: Iterable[str]) -> frozenset[str]:
    """The cameras ``member`` should analyse; it counts itself among the members whether listed or not."""
    return assign(cameras, {*members, member}).get(member, frozenset())
