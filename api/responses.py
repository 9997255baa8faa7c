"""The JSON shapes the API answers with, one model per shape: the OpenAPI spec shows them, the typed client
(api/client) is generated from them, and FastAPI checks every answer against them.

Routes keep building plain dicts (api/schemas.py, the routes' ``*_json``); ``response_model=`` validates
them on the way out. ``extra="forbid"`` everywhere: a field added to a dict but not here fails loudly (500 in
the tests, a schemathesis failure) instead of vanishing from the spec.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from models.records import (
    EventKind,
    GridKind,
    GridMatch,
    IncidentState,
    LineDirection,
    LocatedBy,
    Tier,
    ZoneKind,
)

#: An ISO 8601 instant with its UTC offset, as ``datetime.isoformat()`` writes it.
Instant = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
#: The same from a datetime: written as ``isoformat()`` writes it (``+00:00``), as before the models.
InstantOf = Annotated[
    datetime,
    PlainSerializer(lambda at: at.isoformat(), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- sign-in --------------------------------------------------------------------------------------------


class UserOut(Out):
    name: str
    role: str
    scope: str = Field(description="Unit code prefix the user sees; empty for the whole installation")
    worker_id: str | None


class TokenOut(Out):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"]
    expires_in: int = Field(description="Seconds the access token is valid")
    user: UserOut


class StatusOut(Out):
    status: str


# --- incidents ------------------------------------------------------------------------------------------


class UnitOut(Out):
    code: str
    name: str
    level: int


class PlaceOut(Out):
    lon: float
    lat: float
    located_by: LocatedBy
    grid_code: str | None
    grid_match: GridMatch
    unit_code: str
    chain: list[UnitOut]


class AssigneeOut(Out):
    worker_id: str
    name: str | None
    phone: str | None


class CoverOut(Out):
    absent: str
    cover: str


class DutyOut(BaseModel):
    """Who was on duty when the case was routed and the fallback chain walked; later hand-overs and
    escalations add their own keys."""

    model_config = ConfigDict(extra="allow")

    on_duty: list[str] | None = None
    role: str | None = None
    tried: list[list[str | bool]] | None = Field(default=None, description="[post, unit code, found]")
    covers: list[CoverOut] | None = None
    handed_over_by: str | None = None
    escalated_from: str | None = None


class CatalogueOut(BaseModel):
    """The incident's 数字城管 class and sub-class (GB/T 30428.2), from the versioned catalogue
    (models/catalogue.json)."""

    major: str = Field(description="大类, e.g. 突发事件")
    minor: str = Field(description="小类, e.g. 火灾")
    code: str | None = Field(
        default=None,
        description="The four-digit event code, 大类 + 小类 (0505 机动车乱停放), where it is known",
    )
    detail: str = Field(description="What the class alone does not say (消防通道占用), or empty")
    path: str = Field(description="As shown: 大类/小类（detail） code")
    version: str = Field(description="The catalogue's version")
    occupant: str | None = Field(
        default=None,
        description="An occupation's occupant, whose entry this is: vehicle, stall, goods or debris "
        "(models/catalogue.json by_occupant, from the labels of its boxes); null for other kinds",
    )


class IncidentOut(Out):
    id: str
    title: str
    kind: EventKind
    state: IncidentState
    severity: Literal["low", "medium", "high", "critical"]
    severity_level: int = Field(ge=1, le=4)
    tier: Tier
    department: str | None
    category_code: str | None
    catalogue: CatalogueOut
    place: PlaceOut
    camera_id: str | None
    assignee: AssigneeOut | None
    duty: DutyOut
    opened_at: Instant | None
    last_seen_at: Instant | None
    accept_by: Instant | None
    late: bool
    event_count: int
    version: int


class IncidentWithActions(IncidentOut):
    actions: list[str] = Field(description="The steps the caller may take on it now")


class LogEntryOut(Out):
    from_state: IncidentState | None
    to_state: IncidentState
    action: str
    actor: str
    at: Instant | None
    note: str
    attachments: list[str]


class DetectionOut(Out):
    xyxy: list[float]
    confidence: float
    label: str
    track_id: int | None
    ground: list[float] | None


class EvidenceOut(Out):
    id: str
    role: str
    media_type: str
    sha256: str
    size: int
    url: str


class EventOut(Out):
    id: str
    kind: EventKind
    camera_id: str | None
    zone_name: str | None
    started_at: Instant | None
    confidence: float | None
    person_count: int | None
    detections: list[DetectionOut]
    lon: float | None
    lat: float | None
    evidence: list[EvidenceOut]


class IncidentDetail(IncidentWithActions):
    log: list[LogEntryOut]
    events: list[EventOut]


class IncidentPage(Out):
    items: list[IncidentWithActions]
    total: int
    limit: int
    offset: int


class TransitionRule(Out):
    from_: IncidentState = Field(alias="from")
    action: str
    to: IncidentState


class CaseworkRules(Out):
    transitions: list[TransitionRule]
    posts: dict[str, list[str]] = Field(description="Post → the steps it may take")
    reasons: dict[str, dict[str, str]] = Field(description="Action → reason code → label")
    mine: str


class AttachmentOut(Out):
    id: str
    sha256: str
    size: int
    url: str


# --- cameras, live and the registry -----------------------------------------------------------------------


class CameraEventsStatus(Out):
    state: str
    reason: str | None
    subscriptions: int | None = None
    renewals: int | None = None
    events: int | None = None


class CameraStatus(Out):
    """The optional keys are left out, not null, where they do not apply (routes exclude unset fields)."""

    state: str
    reason: str | None
    fps: float | None
    last_frame_at: InstantOf | None
    analysed_frames: int
    events: int
    detections: int
    camera_events: CameraEventsStatus | None = None
    reasons: list[str] | None = None


class LonLatOut(Out):
    lon: float
    lat: float


class LiveZone(Out):
    name: str
    kind: ZoneKind
    polygon_px: list[list[float]]


class LiveCamera(Out):
    id: str
    name: str
    frame_size: list[int]
    mount: LonLatOut
    calibrated: bool
    zones: list[LiveZone]
    status: CameraStatus


class MountOut(Out):
    lonlat: list[float]
    height_m: float | None
    heading_deg: float | None


class CalibrationPointOut(Out):
    px: list[float]
    lonlat: list[float]


class StaticMassOut(Out):
    """Occupation by anything: how an occupation zone watches for new static masses."""

    reference_image: str | None
    min_area_fraction: float
    prohibited_hours: list[str]
    timezone: str
    absorb_seconds: float
    occupant: str = Field(default="debris", description="What an unnamed mass here is: debris or goods")


class ZoneOut(Out):
    name: str
    kind: ZoneKind
    polygon_px: list[list[float]]
    min_persons: int
    min_seconds: float
    cooldown_seconds: float
    direction: LineDirection
    labels: list[str]
    static_mass: StaticMassOut | None = Field(
        default=None, description="Occupation zones: the static-mass watch; null: class-based rule only"
    )
    min_density_per_m2: float | None = None


class RegistryCamera(Out):
    id: str
    name: str
    source: str = Field(description="The stream URL with its user and password masked")
    frame_size: list[int]
    mount: MountOut
    calibration: list[CalibrationPointOut]
    zones: list[ZoneOut]
    analysis_fps: float
    enabled: bool


# --- grids, roster, KPIs, meta ----------------------------------------------------------------------------


class Geometry(Out):
    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list[Any] = Field(description="GeoJSON coordinates, WGS84 lon/lat")


class GridProperties(Out):
    code: str
    name: str
    kind: GridKind
    community_name: str | None
    township_name: str | None
    open_incidents: int


class GridFeature(Out):
    type: Literal["Feature"]
    geometry: Geometry
    properties: GridProperties


class GridCollection(Out):
    type: Literal["FeatureCollection"]
    features: list[GridFeature]


class ShiftOut(Out):
    worker_id: str
    name: str
    phone: str | None
    role: str
    unit_code: str
    weekdays: list[int]
    start: str = Field(description="HH:MM local time")
    end: str = Field(description="HH:MM local time; 24:00 for midnight")


class AbsenceOut(Out):
    id: int | None
    worker_id: str
    starts_at: Instant
    ends_at: Instant
    cover_id: str | None
    reason: str
    source: str


class RosterOut(Out):
    unit_code: str
    version: int
    shifts: list[ShiftOut]
    absences: list[AbsenceOut]


class ShiftsOut(Out):
    unit_code: str
    shifts: list[ShiftOut]


class KpiRow(Out):
    """One group's figures; a ratio comes with its numerator and denominator (router/kpis.py)."""

    key: str
    name: str
    cases: int
    filed: int
    closed: int
    closure_rate: float | None
    on_time: int
    due: int
    on_time_rate: float | None
    reworked: int
    resolved: int
    rework_rate: float | None
    camera_verified: int
    verified: int
    camera_share: float | None
    accept_p50_s: float | None
    accept_p90_s: float | None
    arrive_p50_s: float | None
    arrive_p90_s: float | None
    resolve_p50_s: float | None
    resolve_p90_s: float | None
    late_accept: int
    late_arrive: int
    late_resolve: int
    duplicates_merged: int


class KpiTable(Out):
    by: str
    from_: Instant = Field(alias="from")
    to: Instant
    as_of: Instant
    columns: list[str]
    rows: list[KpiRow]
    total: KpiRow


class HealthOut(Out):
    status: Literal["ok"]
    database: Literal["ok"]


class DetectorStats(Out):
    batches: int
    frames: int
    name: str = Field(description="The person detector's name (weights and back-end)")
    cannot_see: dict[str, str] = Field(
        description="Kinds of thing the detector cannot see, each with what that costs the site"
    )


class ServiceStatus(Out):
    counts: dict[str, int]
    cameras: dict[str, CameraStatus]
    detector: DetectorStats


class SiteOut(Out):
    timezone: str = Field(description="The county's IANA time zone")


class Problem(BaseModel):
    """What a 4xx says: ``detail`` is a message, or a list of problems each with its reason."""

    detail: str | list[dict[str, Any]]


def with_problems(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with its refusals as Problems: every 422 (FastAPI documents its own validation error only,
    while routes also refuse with a message or a list of reasons), 401 where a sign-in is needed and 404
    where the path names an object."""
    body = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    paths: dict[str, Any] = {}
    for path, item in spec.get("paths", {}).items():
        paths[path] = {}
        for method, operation in item.items():
            responses = dict(operation.get("responses", {}))
            if "422" in responses:
                responses["422"] = {**responses["422"], **body}
            if operation.get("security"):
                responses.setdefault(
                    "401", {"description": "Not signed in, or the token has expired", **body}
                )
            if "{" in path:
                responses.setdefault(
                    "404", {"description": "No such object, or not in the caller's area", **body}
                )
            paths[path][method] = {**operation, "responses": responses}
    schemas = dict(spec.get("components", {}).get("schemas", {}))
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    text = repr(paths)
    for unused in ("HTTPValidationError", "ValidationError"):
        if f"/{unused}'" not in text:
            schemas.pop(unused, None)
    return {**spec, "paths": paths, "components": {**spec.get("components", {}), "schemas": schemas}}
