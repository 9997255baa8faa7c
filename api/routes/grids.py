"""The grid map: every grid the caller may see, with how many open incidents it holds."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import CurrentPrincipal, StoreDep
from api.responses import GridCollection
from models.incidents import IncidentFilter
from models.records import OPEN_STATES

router = APIRouter(tags=["grids"])


@router.get("/api/grids", response_model=GridCollection)
async def grids(store: StoreDep, principal: CurrentPrincipal) -> dict[str, Any]:
    open_incidents, _ = await store.incidents.page(
        IncidentFilter(unit_prefix=principal.scope, states=sorted(OPEN_STATES)), limit=10_000
    )
    open_by_grid: dict[str, int] = {}
    for incident in open_incidents:
        if incident.grid_code:
            open_by_grid[incident.grid_code] = open_by_grid.get(incident.grid_code, 0) + 1
    features = [
        {
            "type": "Feature",
            "geometry": g.geometry,
            "properties": {
                "code": g.code,
                "name": g.name,
                "kind": g.kind.value,
                "community_name": g.community_name,
                "township_name": g.township_name,
                "open_incidents": open_by_grid.get(g.code, 0),
            },
        }
        for g in await store.grids.load()
        if principal.sees(g.code)
    ]
    return {"type": "FeatureCollection", "features": features}
