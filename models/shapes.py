"""Shape rules that the site config, the camera registry and the detection rules must agree on."""

from __future__ import annotations

from collections.abc import Sequence

from models.records import Pixel


def validate_segment(segment: Sequence[Pixel]) -> None:
    """A line zone is a segment A→B: two points, apart, since a zero-length line has no sides.

    Raises ValueError saying which; the site config and the line rule both report its message as is.
    """
    if len(segment) != 2:
        raise ValueError(f"a line zone is a segment: exactly 2 points [[x, y], [x, y]], got {len(segment)}")
    (ax, ay), (bx, by) = segment
    if (ax, ay) == (bx, by):
        raise ValueError(f"a line zone needs two different points, got [{ax}, {ay}] twice")
