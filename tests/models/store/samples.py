"""One grid of 青河县, a crowd event on its camera, and the opening that event routes to: what the store
tests record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.incidents import IncidentOpening
from models.records import Event, EventKind, Grid, GridKind, LocatedBy, Severity, Tier

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
GRID_CODE = "379901001001001"


def sample_grid(code: str = GRID_CODE) -> Grid:
    return Grid(
        code=code,
        name="东关一网格",
        kind=GridKind.BASIC,
        county_code=code[:6],
        county_name="青河县",
        township_code=code[:9],
        township_name="城关街道",
        community_code=code[:12],
        community_name="东关社区",
        geometry={"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
    )


def crowd_opening(key: str = "k1", at: datetime = T0) -> IncidentOpening:
    grid = sample_grid()
    return IncidentOpening(
        kind=EventKind.CROWD,
        severity=Severity.HIGH,
        tier=Tier.COMMUNITY,
        department="综治/公安",
        category_code="GW-CROWD-01",
        unit_code=grid.code,
        grid_code=grid.code,
        grid_match="inside",
        chain=grid.chain(),
        lonlat=(118.63, 35.79),
        located_by=LocatedBy.HOMOGRAPHY,
        camera_id="cam-1",
        dedup_key=key,
        title="人员聚集 crowd",
        at=at,
        accept_by=at + timedelta(minutes=10),
        assignee_id="w001",
        assignee_name="王芳",
        assignee_phone="13800000001",
    )


def crowd_event(at: datetime = T0) -> Event:
    return Event(kind=EventKind.CROWD, camera_id="cam-1", zone_name="road", started_at=at, confidence=0.8)
