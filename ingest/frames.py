"""The frame value and the port every frame source implements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt

from ingest.health import CameraHealth

Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded picture of one camera."""

    camera_id: str
    #: Counts up by one per decoded frame of a source, across reconnects and file loops.
    index: int
    #: When the frame was decoded, from the source's injected clock (aware UTC).
    captured_at: datetime
    #: BGR, uint8, shape (height, width, 3).
    image: Image
    keyframe: bool

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels, the order models.records.Camera.frame_size uses."""
        height, width = self.image.shape[:2]
        return (width, height)


class FrameSource(Protocol):
    """A camera (or a file standing in for one) that yields decoded frames.

    Decoding runs off the event loop; frames are handed over through a small queue that drops the
    oldest frame when the consumer falls behind, so a slow analyser always sees the newest picture.
    Implementations write ``frames`` as an ``async def`` generator; one consumer at a time.
    """

    @property
    def camera_id(self) -> str: ...

    @property
    def health(self) -> CameraHealth: ...

    @property
    def latest(self) -> Frame | None:
        """The newest decoded frame, whether or not a consumer took it (for the live view)."""
        ...

    def frames(self) -> AsyncIterator[Frame]: ...

    async def aclose(self) -> None: ...
