"""How `gridwatch eval` counts a crowd: what the service's crowd rule counts, after the tracker."""

from __future__ import annotations

from detect.evaluation.dataset import EvalItem
from detect.evaluation.judge import judge
from detect.evaluation.observe import Observation
from models.records import Detection

ITEM = EvalItem("crowd/x.mp4", "crowd", None, 12, "x")


def person(i: int) -> Detection:
    return Detection((20.0 + 50 * i, 200.0, 60.0 + 50 * i, 320.0), 0.8, "person", 0)


def test_people_occluded_for_a_look_still_count_as_the_service_counts_them() -> None:
    """Twelve people; each analysed frame misses two of them (occluded in turn), so no frame has more than
    ten boxes. The tracker keeps them and the crowd rule holds one missed for up to a second: twelve."""
    frames = []
    for k in range(20):
        missing = {k % 12, (k + 6) % 12}
        frames.append((k * 0.5, tuple(person(i) for i in range(12) if i not in missing)))
    observation = Observation(ITEM, (640, 480), tuple(frames), duration_s=10.0)
    assert max(len(found) for _, found in frames) == 10
    assert judge(observation).persons == 12


def test_a_still_counts_its_boxes() -> None:
    still = Observation(ITEM, (640, 480), ((0.0, tuple(person(i) for i in range(7))),), duration_s=0.0)
    assert judge(still).persons == 7
