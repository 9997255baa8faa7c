"""Zone rules: pure state machines of (detections, zone, time) that say when an event starts and ends."""

from detect.rules.base import Model, Phase, Rule, RuleOutput, model_of
from detect.rules.crowd import CrowdRule
from detect.rules.fall import FallRule
from detect.rules.fire import FireRule
from detect.rules.line import LineCrossingRule
from detect.rules.occupation import OccupationRule
from detect.rules.voting import VotingRule

__all__ = [
    "CrowdRule",
    "FallRule",
    "FireRule",
    "LineCrossingRule",
    "Model",
    "OccupationRule",
    "Phase",
    "Rule",
    "RuleOutput",
    "VotingRule",
    "model_of",
]
