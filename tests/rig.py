"""Both roles in one test, built by the wiring module, joined by a link that answers at once.

``serve`` joins the roles with a queue (api/link.py), so a reported event is stored some time later; a
test that reports an event usually wants its incident now. ``DirectLink`` hands each message straight to
the centre's intake and keeps the incidents it opened, so ``await rig.analysis.analyse(...)`` returns with
the event stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
import numpy as np
from fastapi import FastAPI

from api.auth import AuthConfig
from api.site import DEMO_PASSWORD
from api.wiring import Centre, build_analysis, build_app, build_centre
from detect.analysis.node import AnalysisNode
from detect.port import Detector
from models.clock import Clock
from models.link import AnalysisMessage, EventReport
from models.records import Detection
from models.store import Store
from router.centre.intake import Intake


class NoDetector:
    """For tests that report events directly; a camera loop calling the detector would be a bug."""

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
    return Rig(store, clock, link, analysis, centre, build_app(centre, analysis, auth, clock), auth)
