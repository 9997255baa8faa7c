"""What every part of the store shares: the pool, its errors, and the JSON shapes stored in jsonb."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from models.records import CalibrationPoint, Mount, Unit, UnitLevel, Zone


class NotFound(LookupError):
    pass


class StaleVersion(RuntimeError):
    """The incident changed since the caller read it; re-read and decide again."""


class OpenTwin(RuntimeError):
    """The step would reopen a case while another open incident holds its dedup key (a recurrence)."""

    def __init__(self, incident_id: uuid.UUID, twin_id: uuid.UUID, twin_state: str) -> None:
        super().__init__(
            f"incident {twin_id} ({twin_state}) is open for the same place and kind: work on it, "
            f"or reject it as a duplicate before reopening {incident_id}"
        )
        self.twin_id = twin_id


#: What a dying or restarting server raises: connection loss, refused connects, pool release after loss.
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.OperatorInterventionError,  # admin/crash shutdown terminating our backend
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,  # refused or missing socket while the server is down; ConnectionResetError mid-query
    TimeoutError,
)


#: The role the service's connections act as (migration 0008): everything on its tables except changing
#: or removing audit and incident-log rows.
SERVICE_ROLE = "gridwatch_service"


async def init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    # SET ROLE rather than a second login role: it works the same with the embedded server (one
    # superuser over a socket, no passwords) and with a configured URL (one set of credentials to
    # manage; the migration makes that user a member of the role), while migrations keep running as the
    # connecting user, who owns the schema. The role stops the service's own statements from rewriting
    # the trail; a session could RESET ROLE, which is why the triggers refuse the owner too and the hash
    # chain shows what a superuser changes behind both. The pool's reset on release (RESET ALL) leaves
    # the role in place, so it holds for the connection's life.
    await conn.execute(f"SET ROLE {SERVICE_ROLE}")


class Repository:
    """One aggregate's SQL; every repository of a Store shares its pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool


def unit_json(unit: Unit) -> dict[str, Any]:
    return {"code": unit.code, "name": unit.name, "level": int(unit.level)}


def units_from_json(chain: Sequence[dict[str, Any]]) -> tuple[Unit, ...]:
    """An incident's stored chain, county first; each unit's parent is the one before it."""
    units: list[Unit] = []
    for entry in chain:
        parent = units[-1].code if units else None
        units.append(Unit(entry["code"], entry["name"], UnitLevel(entry["level"]), parent))
    return tuple(units)


def mount_json(mount: Mount) -> dict[str, Any]:
    return {"lonlat": list(mount.lonlat), "height_m": mount.height_m, "heading_deg": mount.heading_deg}


def calibration_json(points: Sequence[CalibrationPoint]) -> list[dict[str, Any]]:
    return [{"px": list(p.px), "lonlat": list(p.lonlat)} for p in points]


def zones_json(zones: Sequence[Zone]) -> list[dict[str, Any]]:
    """Zones as stored (jsonb) and as the registry API shows them."""
    return [
        {
            "name": z.name,
            "kind": z.kind.value,
            "polygon_px": [list(p) for p in z.polygon_px],
            "min_persons": z.min_persons,
            "min_seconds": z.min_seconds,
            "cooldown_seconds": z.cooldown_seconds,
            "direction": z.direction.value,
            "labels": list(z.labels),
            "static_mass": None if z.static_mass is None else dataclasses.asdict(z.static_mass),
            "min_density_per_m2": z.min_density_per_m2,
        }
        for z in zones
    ]
