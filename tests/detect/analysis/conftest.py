from __future__ import annotations

from collections.abc import Iterator

import pytest

from detect.backends.factory import build_detector, build_fire_detector
from detect.port import Detector
from tests.conftest import SHARED_MODELS


@pytest.fixture(scope="module")
def detectors() -> Iterator[tuple[Detector, Detector]]:
    """The person and fire/smoke detectors of ../shared/models, built as serve and node build them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRIDWATCH_MODEL_DIRS", str(SHARED_MODELS))
        person = build_detector()
        # On the person model's runtime: the fire model's OpenVINO export.
        fire = build_fire_detector(person=person)
        assert fire is not None, "pip install 'gridwatch[fire]' (fire-detector==1.0.3)"
        yield person, fire
