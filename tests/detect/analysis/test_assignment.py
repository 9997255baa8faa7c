"""The fair share of a township's cameras each node computes alone (detect/analysis/assignment.py)."""

from __future__ import annotations

import random

import pytest

from detect.analysis.assignment import assign, share_of

CAMERAS = [f"cam-{i:03d}" for i in range(100)]


def _nodes(n: int) -> list[str]:
    return [f"node-{i}" for i in range(n)]


def _moved(before: dict[str, frozenset[str]], after: dict[str, frozenset[str]]) -> int:
    """Cameras that left a node that is still there."""
    return sum(len(cams - after[node]) for node, cams in before.items() if node in after)


@pytest.mark.parametrize("members", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("cameras", [0, 1, 10, 100])
def test_each_camera_goes_to_one_node_and_shares_differ_by_at_most_one(members: int, cameras: int) -> None:
    shares = assign(CAMERAS[:cameras], _nodes(members))
    assert set(shares) == set(_nodes(members))
    handed = [c for s in shares.values() for c in s]
    assert sorted(handed) == CAMERAS[:cameras]
    sizes = [len(s) for s in shares.values()]
    assert max(sizes) - min(sizes) <= 1


def test_every_node_computes_the_same_assignment_from_the_same_sets_in_any_order() -> None:
    shuffled_cameras, shuffled_nodes = CAMERAS[:], _nodes(5)
    random.Random(7).shuffle(shuffled_cameras)
    random.Random(8).shuffle(shuffled_nodes)
    assert assign(shuffled_cameras, shuffled_nodes) == assign(CAMERAS, _nodes(5))
    assert all(share_of(n, CAMERAS, _nodes(5)) == s for n, s in assign(CAMERAS, _nodes(5)).items())


def test_a_node_counts_itself_and_no_members_means_no_assignment() -> None:
    assert share_of("node-0", CAMERAS[:10], []) == frozenset(CAMERAS[:10])
    assert assign(CAMERAS, []) == {}


@pytest.mark.parametrize("members", [2, 3, 4, 5])
def test_a_joining_node_takes_about_its_share_and_the_rest_stay_put(members: int) -> None:
    before = dict(assign(CAMERAS, _nodes(members)))
    after = dict(assign(CAMERAS, _nodes(members + 1)))
    newcomer = after[f"node-{members}"]
    assert len(newcomer) >= len(CAMERAS) // (members + 1)
    # Ideally only the newcomer's share moves; the bounded rooms push a few more along, never many.
    assert _moved(before, after) <= len(newcomer) * 1.5


@pytest.mark.parametrize("members", [3, 4, 5, 6])
def test_a_departed_node_s_cameras_go_to_the_others_who_keep_nearly_all_of_theirs(members: int) -> None:
    before = dict(assign(CAMERAS, _nodes(members)))
    after = dict(assign(CAMERAS, _nodes(members)[1:]))
    assert before["node-0"] <= frozenset().union(*after.values())
    assert _moved(before, after) <= len(CAMERAS) // members // 2
