"""The centre's side of camera events: what each topic does, straight through the intake (no camera)."""

from __future__ import annotations

import logging
import pickle

import pytest

from models.camera_events import CameraEventTable, rule
from models.link import CameraEventReport, EventReport
from models.records import Event, EventKind, EventPhase
from models.store import Store
from tests.rig import T0, demo_rig

CAMERA = "cam-dongguan-road"


def _heard(topic: str, active: bool = True, **data: str) -> CameraEventReport:
    return CameraEventReport(CAMERA, topic, active, T0, {"VideoSourceConfigurationToken": "VSC_1"}, data)


async def test_topics_open_fold_attach_or_do_nothing(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    rig = await demo_rig(store)
    try:
        rig.centre.intake.camera_events.table = CameraEventTable(  # type: ignore[union-attr]
            [rule("tns1:VideoSource/GlobalSceneChange/*", "ignore"), rule("tns1:RuleEngine/*", "attach")]
        )
        handle = rig.centre.intake.handle
        # Attach with no open incident, an ended tamper, an ignored topic, an unmapped one (twice).
        assert await handle(_heard("tns1:RuleEngine/LineDetector/Crossed", ObjectId="7")) is None
        assert await handle(_heard("tns1:VideoSource/SignalLoss", False, State="false")) is None
        assert await handle(_heard("tns1:VideoSource/GlobalSceneChange/ImagingService", State="true")) is None
        assert await handle(_heard("tns1:VideoSource/MotionAlarm", State="true")) is None
        assert await handle(_heard("tns1:VideoSource/MotionAlarm", State="true")) is None
        assert (await store.incidents.page())[1] == 0
        unmapped = [r for r in caplog.records if "maps to nothing" in r.getMessage()]
        assert len(unmapped) == 1

        # Video loss is the picture gone: a camera_offline incident, which the offline watch's own report
        # for the same camera then joins instead of opening a second one.
        loss = _heard("tns1:VideoSource/SignalLoss", State="true")
        opened = await handle(pickle.loads(pickle.dumps(loss)))  # as a message bus would carry it
        assert opened is not None and opened[1]
        offline = Event(EventKind.CAMERA_OFFLINE, CAMERA, None, T0, 1.0)
        assert await handle(EventReport(EventPhase.START, offline)) == (opened[0], False)
        [incident] = (await store.incidents.page())[0]
        assert incident.kind is EventKind.CAMERA_OFFLINE and incident.event_count == 2

        # A rule's topic match attaches to that open incident.
        crossed = _heard("tns1:RuleEngine/LineDetector/Crossed", ObjectId="7")
        assert await handle(crossed) == (opened[0], False)
        notes = [e.note for e in await store.incidents.log(opened[0]) if e.action == "camera_event"]
        assert notes == ["tns1:RuleEngine/LineDetector/Crossed ObjectId=7"]
    finally:
        await rig.stop()


def test_a_cameras_events_share_one_ordering_key() -> None:
    a, b = _heard("tns1:VideoSource/SignalLoss"), _heard("tns1:RuleEngine/TamperDetector/Tamper")
    other = CameraEventReport("cam-other", "tns1:VideoSource/SignalLoss", True, T0)
    assert a.event_id == b.event_id != other.event_id
