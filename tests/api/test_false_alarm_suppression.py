"""A fire incident rejected as a false alarm (误报) silences its region on its camera, through the running
centre and analysis node: the reject step over HTTP, Casework's listener, the ``SuppressRegion`` command,
the node's suppressions, and the camera's fire rule that no longer sees boxes there."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import numpy as np
import pytest

from api.nats.wire import decode_command, encode
from api.site import demo_site
from detect.analysis.analyzer import CameraAnalyzer, evidence_of, jpeg_blob
from detect.rules import Model, Phase
from models.link import EventReport, SuppressRegion
from models.records import Camera, Detection, Event, EventKind, EventPhase, IncidentState, Zone, ZoneKind
from models.store import Store
from router.lifecycle import Action
from tests.rig import T0, Rig, demo_rig

LAMP = (430.0, 170.0, 460.0, 205.0)


@pytest.fixture
async def rig(store: Store) -> AsyncIterator[Rig]:
    built = await demo_rig(store)
    yield built
    await built.stop()


async def fire_incident(rig: Rig) -> uuid.UUID:
    """A fire incident on the demo street, opened by the intake, waiting for review (reported)."""
    snapshot = b"\xff\xd8fire-snapshot"
    event = Event(
        kind=EventKind.FIRE,
        camera_id="cam-dongguan-road",
        zone_name="whole-view",
        started_at=T0,
        confidence=0.3,
        detections=(Detection(LAMP, 0.3, "fire", 1),),
        evidence=(evidence_of(snapshot, "snapshot"),),
    )
    answer = await rig.report(EventReport(EventPhase.START, event, (jpeg_blob(snapshot, "snapshot"),)))
    assert answer is not None
    incident_id, _ = answer
    await rig.store.pool.execute(
        "UPDATE incidents SET state = $2 WHERE id = $1", incident_id, IncidentState.REPORTED.value
    )
    return incident_id


async def reject(rig: Rig, incident_id: uuid.UUID, reason: str) -> None:
    client = await rig.client("command")
    response = await client.post(
        f"/api/incidents/{incident_id}/transitions", json={"action": Action.REJECT.value, "reason": reason}
    )
    assert response.status_code == 200, response.text


def flicker(i: int, where: tuple[float, float, float, float]) -> Detection:
    """A flame standing on ``where``'s bottom, its height leaping between 40 % and all of ``where``."""
    x0, y0, x1, y1 = where
    height = (y1 - y0) * (1.0, 0.4, 0.7)[i % 3]
    return Detection((x0, y1 - height, x1, y1), 0.4, "fire", 1)


def fire_starts(rig: Rig, where: tuple[float, float, float, float]) -> int:
    """Fire STARTs of the street camera's analyzer, sharing the node's suppressions, fed a flickering fire."""
    analyzer = CameraAnalyzer(street_with_fire_zone(), clips=False, suppressions=rig.analysis.suppressions)
    image = np.zeros((576, 768, 3), np.uint8)
    now = rig.clock.now()
    reports = [
        r
        for i in range(8)
        for r in analyzer.analyze(
            [flicker(i, where)], image, now + timedelta(seconds=2 * i), ran={Model.FIRE}
        )
    ]
    return sum(1 for r in reports if r.phase is Phase.START and r.event.kind is EventKind.FIRE)


def street_with_fire_zone() -> Camera:
    street = demo_site().cameras[0]
    whole = ((0.0, 0.0), (768.0, 0.0), (768.0, 576.0), (0.0, 576.0))
    return dataclasses.replace(street, zones=(Zone("whole-view", ZoneKind.FIRE, whole),))


async def test_a_false_alarm_silences_its_region_on_its_camera_for_the_hold(rig: Rig) -> None:
    assert fire_starts(rig, LAMP) == 1  # before: the spot raises a fire
    await reject(rig, await fire_incident(rig), "false_alarm")
    [region] = rig.analysis.suppressions.active("cam-dongguan-road", rig.clock.now())
    assert region.box == LAMP and set(region.kinds) == {EventKind.FIRE, EventKind.SMOKE}
    # The default hold is a camera-day (policies.false_alarm_hold_hours: 24).
    assert region.until == rig.clock.now() + timedelta(hours=24)
    assert fire_starts(rig, LAMP) == 0
    # Elsewhere in the picture a fire is still a fire.
    assert fire_starts(rig, (100.0, 300.0, 140.0, 340.0)) == 1
    # And after the hold the spot is watched again.
    assert rig.analysis.suppressions.active("cam-dongguan-road", region.until) == []


async def test_other_reasons_to_reject_silence_nothing(rig: Rig) -> None:
    await reject(rig, await fire_incident(rig), "duplicate")
    assert rig.analysis.suppressions.active("cam-dongguan-road", rig.clock.now()) == []
    assert fire_starts(rig, LAMP) == 1


def test_the_command_crosses_machines() -> None:
    command = SuppressRegion("cam-1", (EventKind.FIRE, EventKind.SMOKE), LAMP, T0, uuid.uuid4())
    assert decode_command(encode(command)) == command


def test_the_hold_comes_from_the_site_policies() -> None:
    from models.config import PoliciesSection
    from router.centre.false_alarms import FalseAlarms
    from router.policies import build_policies

    assert build_policies(PoliciesSection()).false_alarm_hold == timedelta(hours=24)
    policies = build_policies(PoliciesSection.model_validate({"false_alarm_hold_hours": 2}))
    assert policies.false_alarm_hold == timedelta(hours=2)
    never = FalseAlarms(None, None, None, policies=build_policies(PoliciesSection(false_alarm_hold_hours=0)))  # type: ignore[arg-type]
    assert never._hold == timedelta(0)
