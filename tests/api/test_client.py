"""The typed client (api/client/v1.py): generated from the spec, kept in sync, and able to run the loop."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import replace
from types import MappingProxyType

import pytest

from api.app import create_app
from api.client import gen
from api.client.v1 import ApiError, Client, IncidentDetail, TransitionIn
from api.site import DEMO_PASSWORD
from api.wiring import System
from models.clock import ManualClock
from models.db import Database
from models.records import EventKind
from router.policies import DEFAULT_POLICIES, FilingPolicy
from tests.rig import T0, NoDetector, crowd_output
from tests.servers import in_process_api

#: A one-pixel PNG: the handler's photo of the finished work.
PHOTO = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def test_the_client_is_generated_from_the_current_spec() -> None:
    spec = create_app(None).openapi()  # type: ignore[arg-type]
    fresh = gen.Generator(spec).render()
    assert sorted(fresh) == [gen.MODELS, gen.TARGET]
    for path, text in fresh.items():
        assert path.read_text() == text, f"{path} is stale: run python -m api.client.gen"
    # One method per operation of the spec, by its summary.
    operations = sum(len(item) for item in spec["paths"].values())
    methods = [m for m in vars(Client) if not m.startswith("_") and m not in ("close", "sign_in")]
    assert len(methods) == operations


@pytest.fixture(scope="module")
def api_base(postgres: Database) -> Iterator[str]:
    async def one_report(system: System) -> None:
        await system.centre.intake.handle(crowd_output(100))  # confidence 0.8: below 0.9, waits for review

    review_crowds = replace(DEFAULT_POLICIES, filing=FilingPolicy(MappingProxyType({EventKind.CROWD: 0.9})))
    with in_process_api(
        postgres.url,
        "gw_client",
        detector=NoDetector(),
        clock=ManualClock(T0),
        camera_source="unused.avi",
        start_cameras=False,
        prepare=one_report,
        policies=review_crowds,
    ) as api:
        yield api.base


def test_signing_in_with_a_wrong_password_raises_the_servers_message(api_base: str) -> None:
    with Client(api_base) as client, pytest.raises(ApiError) as refused:
        client.sign_in("command", "not the password")
    assert (refused.value.status, refused.value.detail) == (401, "wrong user name or password")


def test_the_client_signs_in_and_walks_an_incident_through_the_loop(api_base: str) -> None:
    with Client(api_base) as command, Client(api_base) as worker:
        assert command.sign_in("command", DEMO_PASSWORD).user.role == "county_command"
        assert worker.sign_in("w001", DEMO_PASSWORD).user.worker_id == "w001"
        assert command.me().name == "command"

        # Reported: the camera's crowd waits in the review queue.
        [waiting] = command.list_incidents(state=["reported"]).items
        assert (waiting.kind, waiting.assignee, "file" in waiting.actions) == ("crowd", None, True)
        incident = waiting.id

        def step(client: Client, action: str, **fields: object) -> str:
            moved = client.transition(incident, TransitionIn.model_validate({"action": action, **fields}))
            return moved.state

        assert step(command, "file", assignee_id="w001") == "dispatched"
        assert step(worker, "return", reason="wrong_place") == "returned"
        assert step(command, "dispatch", assignee_id="w001") == "dispatched"
        assert [step(worker, a) for a in ("accept", "depart", "start")] == [
            "accepted",
            "en_route",
            "in_progress",
        ]
        photo = worker.attach(incident, PHOTO, content_type="image/png")
        assert photo.size == len(PHOTO)
        assert step(worker, "resolve", note="人群已疏散", attachments=[photo.id]) == "resolved"
        assert step(command, "verify") == "verified"
        assert step(command, "close") == "closed"
        assert step(command, "evaluate", rating=5) == "closed"

        detail = command.get_incident(incident)
        assert isinstance(detail, IncidentDetail)
        assert [e.action for e in detail.log] == [
            "report", "file", "return", "dispatch", "accept", "depart", "start", "resolve", "verify", "close",
            "evaluate",
        ]  # fmt: skip
        assert detail.log[7].attachments == [photo.id]
        assert detail.events[0].evidence and detail.assignee is not None
        assert detail.assignee.worker_id == "w001"
        with pytest.raises(ApiError) as refused:
            worker.transition(incident, TransitionIn(action="close"))
        assert refused.value.status == 403
