"""Rules the site config shares with other packages are one piece of code, so they say the same thing."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from detect.rules.line import validate_segment
from models.config import LineZone
from models.secrets import is_placeholder
from models.shapes import validate_segment as shared_segment_rule


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([(600.0, 130.0), (768.0, 120.0), (700.0, 200.0)], "a line zone is a segment: exactly 2 points"),
        ([(600.0, 130.0)], "got 1"),
        (
            [(600.0, 130.0), (600.0, 130.0)],
            "a line zone needs two different points, got [600.0, 130.0] twice",
        ),
    ],
)
def test_the_site_config_and_the_line_rule_refuse_a_bent_line_alike(
    points: list[tuple[float, float]], message: str
) -> None:
    assert validate_segment is shared_segment_rule
    with pytest.raises(ValueError, match=r"line zone") as rule:
        validate_segment(points)
    with pytest.raises(ValidationError) as config:
        LineZone.model_validate({"kind": "line", "name": "gate", "polygon_px": points})
    assert message in str(rule.value)
    [error] = config.value.errors()
    assert error["msg"] == f"Value error, {rule.value}"


@pytest.mark.parametrize(
    ("text", "placeholder"),
    [("${CAM_PW}", True), ("${_X1}", True), ("${cam_pw}", False), ("x${CAM_PW}", False), ("$CAM_PW", False)],
)
def test_a_placeholder_is_one_upper_case_variable(text: str, placeholder: bool) -> None:
    assert is_placeholder(text) is placeholder
