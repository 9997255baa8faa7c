"""Acceptance 5 in the API: every incident carries its 数字城管 class and sub-class; the schema says so."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from api.app import create_app
from models.catalogue import CATALOGUE
from models.store import Store
from tests.rig import Rig, crowd_output, demo_rig


@pytest.fixture
async def rig(store: Store) -> AsyncIterator[Rig]:
    built = await demo_rig(store)
    yield built
    await built.stop()


def test_the_schema_requires_the_catalogue_on_every_incident_shape() -> None:
    spec: dict[str, Any] = create_app(None).openapi()  # type: ignore[arg-type]
    schemas = spec["components"]["schemas"]
    shapes = [name for name, s in schemas.items() if "category_code" in s.get("properties", {})]
    assert shapes, "no incident shape in the spec"
    for name in shapes:
        assert "catalogue" in schemas[name]["required"], name
        assert schemas[name]["properties"]["catalogue"] == {"$ref": "#/components/schemas/CatalogueOut"}
    assert set(schemas["CatalogueOut"]["required"]) == {"major", "minor", "detail", "path", "version"}
    assert "code" in schemas["CatalogueOut"]["properties"]


async def test_incidents_in_lists_and_detail_carry_their_class(rig: Rig) -> None:
    answer = await rig.report(crowd_output(100))
    assert answer is not None
    incident_id, _ = answer
    client = await rig.client("command")
    expected = CATALOGUE.of("crowd")
    listed = (await client.get("/api/v1/incidents")).json()
    detail = (await client.get(f"/api/v1/incidents/{incident_id}")).json()
    items = listed["items"] if isinstance(listed, dict) else listed
    for incident in [*items, detail]:
        assert incident["catalogue"] == {
            "major": expected.major,
            "minor": expected.minor,
            "code": None,  # no public numbering found for 人群聚集: none rather than a guess
            "detail": expected.detail,
            "path": "突发事件/人群聚集",
            "version": CATALOGUE.version,
            "occupant": None,
        }
