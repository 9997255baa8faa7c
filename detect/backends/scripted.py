"""An in-memory Detector that replays prepared detections: for tests of everything downstream."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from models.records import Detection


class ScriptedDetector:
    def __init__(
        self,
        script: Iterable[Sequence[Detection]],
        labels: Mapping[int, str] | None = None,
        name: str = "scripted",
    ) -> None:
        self.name = name
        self.labels: Mapping[int, str] = labels or {0: "person"}
        self._script = iter(script)

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        # One scripted frame per image; an exhausted script means "nothing seen".
        return [list(next(self._script, ())) for _ in images]
