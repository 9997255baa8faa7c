"""How `gridwatch eval` judges fire: videos via the temporal stage at the service rate, stills by votes."""

from __future__ import annotations

from detect.evaluation.dataset import EvalItem
from detect.evaluation.judge import judge
from detect.evaluation.observe import Observation
from models.records import Detection

ITEM = EvalItem("fire/x.mp4", "fire", frozenset({"fire"}), None, "x")
STATIC = Detection((300.0, 200.0, 340.0, 240.0), 0.5, "fire", 1)


def flicker(i: int) -> Detection:
    grow = 30.0 * (i % 3)
    return Detection((300.0, 200.0 - grow, 340.0 + grow, 240.0), 0.5, "fire", 1)


def video(boxes: list[Detection]) -> Observation:
    frames = tuple((i * 0.5, (box,)) for i, box in enumerate(boxes))
    return Observation(ITEM, (640, 480), frames, duration_s=len(boxes) * 0.5)


def test_a_static_box_in_a_video_raises_nothing_but_on_a_still_it_votes() -> None:
    assert judge(video([STATIC] * 40)).kinds == ()
    still = Observation(ITEM, (640, 480), ((0.0, (STATIC,)),), duration_s=0.0)
    assert judge(still).kinds == ("fire",)


def test_a_flickering_fire_in_a_video_raises_fire_at_the_fire_models_rate() -> None:
    """Every analysed frame flickers, but the fire rules see one in four (2 s at 2 fps): starts once."""
    result = judge(video([flicker(i) for i in range(40)]))
    assert result.kinds == ("fire",) and result.starts == {"fire": 1}
