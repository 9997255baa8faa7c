"""The shapes of the gridwatch API 0.1.0, generated from its OpenAPI spec by api/client/gen.py.

Do not edit: run ``python -m api.client.gen``; tests/api/test_client.py fails when it is stale.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    # A newer server may add fields: the client keeps working and ignores them.
    model_config = ConfigDict(populate_by_name=True)


class AbsenceOut(_Model):
    id: int | None
    worker_id: str
    starts_at: datetime
    ends_at: datetime
    cover_id: str | None
    reason: str
    source: str

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class AssigneeOut(_Model):
    worker_id: str
    name: str | None
    phone: str | None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class AttachmentOut(_Model):
    id: str
    sha256: str
    size: int
    url: str

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CalibrationPointOut(_Model):
    px: list[float]
    lonlat: list[float]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CameraEventsStatus(_Model):
    state: str
    reason: str | None
    subscriptions: int | None = Field(default=None)
    renewals: int | None = Field(default=None)
    events: int | None = Field(default=None)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CameraStatus(_Model):
    """The optional keys are left out, not null, where they do not apply (routes exclude unset fields)."""

    state: str
    reason: str | None
    fps: float | None
    last_frame_at: datetime | None
    analysed_frames: int
    events: int
    detections: int
    camera_events: CameraEventsStatus | None = Field(default=None)
    reasons: list[str] | None = Field(default=None)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CaseworkRules(_Model):
    transitions: list[TransitionRule]
    posts: dict[str, list[str]]
    reasons: dict[str, dict[str, str]]
    mine: str

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CatalogueOut(_Model):
    """The incident's 数字城管 class and sub-class (GB/T 30428.2), from the versioned catalogue
    (models/catalogue.json).
    """

    major: str
    minor: str
    code: str | None = Field(default=None)
    detail: str
    path: str
    version: str
    occupant: str | None = Field(default=None)


class CoverOut(_Model):
    absent: str
    cover: str

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DetectionOut(_Model):
    xyxy: list[float]
    confidence: float
    label: str
    track_id: int | None
    ground: list[float] | None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DetectorStats(_Model):
    batches: int
    frames: int
    name: str
    cannot_see: dict[str, str]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DutyOut(_Model):
    """Who was on duty when the case was routed and the fallback chain walked; later hand-overs and
    escalations add their own keys.
    """

    on_duty: list[str] | None = Field(default=None)
    role: str | None = Field(default=None)
    tried: list[list[str | bool]] | None = Field(default=None)
    covers: list[CoverOut] | None = Field(default=None)
    handed_over_by: str | None = Field(default=None)
    escalated_from: str | None = Field(default=None)


class EndedOut(_Model):
    ended: list[str]


EventKind = Literal['crowd', 'fire', 'smoke', 'occupation', 'fall', 'line_crossing', 'camera_offline', 'camera_tamper', 'link_down']


class EventOut(_Model):
    id: str
    kind: EventKind
    camera_id: str | None
    zone_name: str | None
    started_at: datetime | None
    confidence: float | None
    person_count: int | None
    detections: list[DetectionOut]
    lon: float | None
    lat: float | None
    evidence: list[EvidenceOut]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class EvidenceOut(_Model):
    id: str
    role: str
    media_type: str
    sha256: str
    size: int
    url: str

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Geometry(_Model):
    type: Literal['Polygon', 'MultiPolygon']
    coordinates: list[Any]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class GridCollection(_Model):
    type: Literal['FeatureCollection']
    features: list[GridFeature]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class GridFeature(_Model):
    type: Literal['Feature']
    geometry: Geometry
    properties: GridProperties

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


GridKind = Literal['basic', 'exclusive']


GridMatch = Literal['inside', 'nearest', 'higher_unit']


class GridProperties(_Model):
    code: str
    name: str
    kind: GridKind
    community_name: str | None
    township_name: str | None
    open_incidents: int

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


Grouping = Literal['grid', 'community', 'township', 'worker', 'department']


class HealthOut(_Model):
    status: Literal['ok']
    database: Literal['ok']

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class IncidentDetail(_Model):
    id: str
    title: str
    kind: EventKind
    state: IncidentState
    severity: Literal['low', 'medium', 'high', 'critical']
    severity_level: int
    tier: Tier
    department: str | None
    category_code: str | None
    catalogue: CatalogueOut
    place: PlaceOut
    camera_id: str | None
    assignee: AssigneeOut | None
    duty: DutyOut
    opened_at: datetime | None
    last_seen_at: datetime | None
    accept_by: datetime | None
    late: bool
    event_count: int
    version: int
    actions: list[str]
    log: list[LogEntryOut]
    events: list[EventOut]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class IncidentPage(_Model):
    items: list[IncidentWithActions]
    total: int
    limit: int
    offset: int

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


IncidentState = Literal['reported', 'dispatched', 'accepted', 'en_route', 'in_progress', 'resolved', 'verified', 'closed', 'returned', 'rejected', 'reopened']


class IncidentWithActions(_Model):
    id: str
    title: str
    kind: EventKind
    state: IncidentState
    severity: Literal['low', 'medium', 'high', 'critical']
    severity_level: int
    tier: Tier
    department: str | None
    category_code: str | None
    catalogue: CatalogueOut
    place: PlaceOut
    camera_id: str | None
    assignee: AssigneeOut | None
    duty: DutyOut
    opened_at: datetime | None
    last_seen_at: datetime | None
    accept_by: datetime | None
    late: bool
    event_count: int
    version: int
    actions: list[str]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class KpiRow(_Model):
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

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class KpiTable(_Model):
    by: str
    from_: datetime = Field(alias='from')
    to: datetime
    as_of: datetime
    columns: list[str]
    rows: list[KpiRow]
    total: KpiRow

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


LineDirection = Literal['left_to_right', 'right_to_left', 'both']


class LiveCamera(_Model):
    id: str
    name: str
    frame_size: list[int]
    mount: LonLatOut
    calibrated: bool
    zones: list[LiveZone]
    status: CameraStatus

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class LiveZone(_Model):
    name: str
    kind: ZoneKind
    polygon_px: list[list[float]]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


LocatedBy = Literal['homography', 'camera_mount']


class LogEntryOut(_Model):
    from_state: IncidentState | None
    to_state: IncidentState
    action: str
    actor: str
    at: datetime | None
    note: str
    attachments: list[str]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class LonLatOut(_Model):
    lon: float
    lat: float

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class MountOut(_Model):
    lonlat: list[float]
    height_m: float | None
    heading_deg: float | None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class NodeHealthOut(_Model):
    node_id: str
    township: str
    cameras: int
    cameras_down: int
    analysed_fps: float
    load: float
    last_seen: datetime
    age_s: float
    skew_s: float
    skewed: bool
    stale: bool


class PasswordChange(_Model):
    current_password: str
    new_password: str

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PlaceOut(_Model):
    lon: float
    lat: float
    located_by: LocatedBy
    grid_code: str | None
    grid_match: GridMatch
    unit_code: str
    chain: list[UnitOut]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Problem(_Model):
    """What a 4xx says: ``detail`` is a message, or a list of problems each with its reason."""

    detail: str | list[dict[str, Any]]


class RefreshIn(_Model):
    refresh_token: str

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RegistryCamera(_Model):
    id: str
    name: str
    source: str
    frame_size: list[int]
    mount: MountOut
    calibration: list[CalibrationPointOut]
    zones: list[ZoneOut]
    analysis_fps: float
    enabled: bool

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RosterOut(_Model):
    unit_code: str
    version: int
    shifts: list[ShiftOut]
    absences: list[AbsenceOut]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ServiceStatus(_Model):
    counts: dict[str, int]
    cameras: dict[str, CameraStatus]
    detector: DetectorStats

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SessionOut(_Model):
    id: str
    user_agent: str
    client: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    current: bool


class SessionsOut(_Model):
    username: str
    sessions: list[SessionOut]


class ShiftOut(_Model):
    worker_id: str
    name: str
    phone: str | None
    role: str
    unit_code: str
    weekdays: list[int]
    start: str
    end: str

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ShiftsOut(_Model):
    unit_code: str
    shifts: list[ShiftOut]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SiteOut(_Model):
    timezone: str

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class StaticMassOut(_Model):
    """Occupation by anything: how an occupation zone watches for new static masses."""

    reference_image: str | None
    min_area_fraction: float
    prohibited_hours: list[str]
    timezone: str
    absorb_seconds: float
    occupant: str = Field(default='debris')

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class StorageState(_Model):
    clips_paused: bool
    reason: str
    free_bytes: int | None
    min_free_bytes: int
    held_bytes: int
    open_bytes: int
    quota_bytes: int | None
    pruned_total: int
    dropped_clips: int


Tier = Literal['grid', 'community', 'township', 'county']


class TokenOut(_Model):
    access_token: str
    refresh_token: str
    token_type: Literal['bearer']
    expires_in: int
    user: UserOut

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TownshipHealthOut(_Model):
    code: str
    link_up: bool
    since: datetime
    lag_messages: int
    lag_s: float
    last_message_age_s: float | None
    rtt_s: float | None
    offline_folded: int
    nodes: list[NodeHealthOut]


class TransitionIn(_Model):
    action: str
    note: str = Field(default='')
    attachments: list[str] | None = Field(default=None)
    expected_state: IncidentState | None = Field(default=None)
    reason: str | None = Field(default=None)
    rating: int | None = Field(default=None)
    assignee_id: str | None = Field(default=None)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TransitionRule(_Model):
    from_: IncidentState = Field(alias='from')
    action: str
    to: IncidentState

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class UnitOut(_Model):
    code: str
    name: str
    level: int

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class UserOut(_Model):
    name: str
    role: str
    scope: str
    worker_id: str | None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


ZoneKind = Literal['crowd', 'occupation', 'fire', 'line']


class ZoneOut(_Model):
    name: str
    kind: ZoneKind
    polygon_px: list[list[float]]
    min_persons: int
    min_seconds: float
    cooldown_seconds: float
    direction: LineDirection
    labels: list[str]
    static_mass: StaticMassOut | None = Field(default=None)
    min_density_per_m2: float | None = Field(default=None)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class api__responses__StatusOut(_Model):
    status: str

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class api__routes__auth_sessions__StatusOut(_Model):
    status: str


AbsenceOut.model_rebuild()
AssigneeOut.model_rebuild()
AttachmentOut.model_rebuild()
CalibrationPointOut.model_rebuild()
CameraEventsStatus.model_rebuild()
CameraStatus.model_rebuild()
CaseworkRules.model_rebuild()
CatalogueOut.model_rebuild()
CoverOut.model_rebuild()
DetectionOut.model_rebuild()
DetectorStats.model_rebuild()
DutyOut.model_rebuild()
EndedOut.model_rebuild()
EventOut.model_rebuild()
EvidenceOut.model_rebuild()
Geometry.model_rebuild()
GridCollection.model_rebuild()
GridFeature.model_rebuild()
GridProperties.model_rebuild()
HealthOut.model_rebuild()
IncidentDetail.model_rebuild()
IncidentPage.model_rebuild()
IncidentWithActions.model_rebuild()
KpiRow.model_rebuild()
KpiTable.model_rebuild()
LiveCamera.model_rebuild()
LiveZone.model_rebuild()
LogEntryOut.model_rebuild()
LonLatOut.model_rebuild()
MountOut.model_rebuild()
NodeHealthOut.model_rebuild()
PasswordChange.model_rebuild()
PlaceOut.model_rebuild()
Problem.model_rebuild()
RefreshIn.model_rebuild()
RegistryCamera.model_rebuild()
RosterOut.model_rebuild()
ServiceStatus.model_rebuild()
SessionOut.model_rebuild()
SessionsOut.model_rebuild()
ShiftOut.model_rebuild()
ShiftsOut.model_rebuild()
SiteOut.model_rebuild()
StaticMassOut.model_rebuild()
StorageState.model_rebuild()
TokenOut.model_rebuild()
TownshipHealthOut.model_rebuild()
TransitionIn.model_rebuild()
TransitionRule.model_rebuild()
UnitOut.model_rebuild()
UserOut.model_rebuild()
ZoneOut.model_rebuild()
api__responses__StatusOut.model_rebuild()
api__routes__auth_sessions__StatusOut.model_rebuild()
