"""Both roles in one test, built by the wiring module, joined by a link that answers at once.

``serve`` joins the roles with a queue (api/link.py), so a reported event is stored some time later; a
test that reports an event usually wants its incident now. ``DirectLink`` hands each message straight to
the centre's intake and keeps the incidents it opened, so ``await rig.analysis.analyse(...)`` returns with
the event stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType

import httpx
import numpy as np
from fastapi import FastAPI

from api.auth import AuthConfig
from api.site import DEMO_PASSWORD, demo_site, load_site, seed_demo_users
from api.wiring import Centre, build_analysis, build_app, build_centre
from detect.analysis.analyzer import evidence_of, jpeg_blob
from detect.analysis.node import AnalysisNode
from detect.port import Detector
from models.clock import Clock, ManualClock
from models.link import AnalysisMessage, EventReport
from models.records import Detection, Event, EventKind, EventPhase
from models.store import Store
from router.centre.intake import Intake


class NoDetector:
    """For tests that report events directly; a camera loop calling the detector would be a bug."""

    name = "none"
    labels: Mapping[int, str] = MappingProxyType({0: "person"})

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        raise AssertionError("this test runs no camera")


@dataclass
class DirectLink:
    """An EventSink that hands each message to the intake at once; ``opened`` lists the incidents opened."""

    intake: Intake | None = None
    opened: list[uuid.UUID] = field(default_factory=list)

    async def publish(self, message: AnalysisMessage) -> None:
        assert self.intake is not None, "connect the link to a centre first"
        result = await self.intake.handle(message)
        if result is not None and result[1]:
            self.opened.append(result[0])


@dataclass
class Rig:
    store: Store
    clock: Clock
    link: DirectLink
    analysis: AnalysisNode
    centre: Centre
    app: FastAPI
    auth: AuthConfig

    async def report(self, report: EventReport) -> tuple[uuid.UUID, bool] | None:
        """What the intake answers for one report: (incident id, opened now) for a START."""
        return await self.centre.intake.handle(report)

    async def client(self, username: str | None = None) -> httpx.AsyncClient:
        """An HTTP client of the app, signed in as ``username`` (demo password) when given."""
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://gridwatch")
        if username is not None:
            response = await c.post("/api/auth/token", json={"username": username, "password": DEMO_PASSWORD})
            assert response.status_code == 200, response.text
            c.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return c

    async def stop(self) -> None:
        await self.analysis.stop()
        await self.centre.stop()


async def build_rig(
    store: Store,
    clock: Clock,
    detector: Detector | None = None,
    *,
    timezone: str = "Asia/Shanghai",
    auth: AuthConfig | None = None,
    workers: bool = False,
    **analysis_options: object,
) -> Rig:
    """Centre and analysis over ``store``; the centre's background workers only with ``workers``."""
    link = DirectLink()
    analysis = build_analysis(link, detector or NoDetector(), clock, **analysis_options)  # type: ignore[arg-type]
    centre = build_centre(store, clock, analysis, timezone=timezone)
    link.intake = centre.intake
    await centre.start(workers=workers)
    auth = auth or AuthConfig.for_demo()
    return Rig(store, clock, link, analysis, centre, build_app(centre, analysis, auth), auth)


T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai: the demo roster's day shift


def crowd_output(x: float) -> EventReport:
    """A crowd START whose five people stand around image column x (left half → grid …001)."""
    people = tuple(Detection((x + 10 * i, 300, x + 10 * i + 30, 400), 0.8, "person", 0) for i in range(5))
    snapshot, clean = b"\xff\xd8snapshot" + bytes([int(x) % 256]), b"\xff\xd8clean" + bytes([int(x) % 256])
    event = Event(
        kind=EventKind.CROWD,
        camera_id="cam-dongguan-road",
        zone_name="road",
        started_at=T0,
        confidence=0.8,
        detections=people,
        person_count=5,
        evidence=(evidence_of(snapshot, "snapshot"), evidence_of(clean, "clean")),
    )
    return EventReport(EventPhase.START, event, (jpeg_blob(snapshot, "snapshot"), jpeg_blob(clean, "clean")))


async def demo_rig(store: Store, detector: Detector | None = None, **options: object) -> Rig:
    """The demo county (grids, roster, camera, sign-ins) in the store, on a ManualClock at T0; the camera's
    video is replaced by a name, for tests that feed frames or events themselves."""
    site = demo_site()
    await load_site(store, replace(site, cameras=[replace(c, source="unused.avi") for c in site.cameras]))
    await seed_demo_users(store)
    return await build_rig(store, ManualClock(T0), detector, timezone=site.timezone, **options)
