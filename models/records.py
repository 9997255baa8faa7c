"""The typed vocabulary every package speaks: Detection → Event → Incident (models/incidents.py).

Plain frozen dataclasses: no I/O, no geometry engine, no database. Geometry is kept as
GeoJSON-shaped lists in WGS84 lon/lat so that the records cross package boundaries unchanged.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from models.secrets import ENV_PLACEHOLDER

LonLat = tuple[float, float]
Pixel = tuple[float, float]
XYXY = tuple[float, float, float, float]


class UnitLevel(enum.IntEnum):
    """Levels of the administrative hierarchy, valued by the length of their code."""

    COUNTY = 6
    TOWNSHIP = 9
    COMMUNITY = 12
    GRID = 15


class GridKind(enum.StrEnum):
    BASIC = "basic"
    EXCLUSIVE = "exclusive"


class Role(enum.StrEnum):
    GRID_WORKER = "grid_worker"
    GRID_LEADER = "grid_leader"
    COMMUNITY_DUTY = "community_duty"
    TOWNSHIP_DUTY = "township_duty"
    COUNTY_COMMAND = "county_command"


#: The unit level each role is rostered on (FORMATS.md).
ROLE_LEVEL: dict[Role, UnitLevel] = {
    Role.GRID_WORKER: UnitLevel.GRID,
    Role.GRID_LEADER: UnitLevel.GRID,
    Role.COMMUNITY_DUTY: UnitLevel.COMMUNITY,
    Role.TOWNSHIP_DUTY: UnitLevel.TOWNSHIP,
    Role.COUNTY_COMMAND: UnitLevel.COUNTY,
}


class ZoneKind(enum.StrEnum):
    CROWD = "crowd"
    OCCUPATION = "occupation"
    FIRE = "fire"
    #: A segment (exactly two points) that tracked objects must not cross in one direction.
    LINE = "line"


class LineDirection(enum.StrEnum):
    """Which crossings of a line zone count.

    The line runs from its first point A to its second point B. Sides are named as seen on the picture
    (x right, y down) by someone standing on A and facing B: for a line drawn left to right across the
    image, "right" is below it (usually nearer the camera) and "left" is above it.
    """

    LEFT_TO_RIGHT = "left_to_right"
    RIGHT_TO_LEFT = "right_to_left"
    BOTH = "both"


class EventPhase(enum.StrEnum):
    """Where an event stands in its episode: it starts once, may update, and ends."""

    START = "start"
    UPDATE = "update"
    END = "end"


class EventKind(enum.StrEnum):
    CROWD = "crowd"
    FIRE = "fire"
    SMOKE = "smoke"
    OCCUPATION = "occupation"
    FALL = "fall"
    LINE_CROSSING = "line_crossing"
    CAMERA_OFFLINE = "camera_offline"
    #: The camera itself reported tampering (covered, moved, sprayed, blurred): someone must go and look.
    CAMERA_TAMPER = "camera_tamper"
    #: A township's uplink to the county centre is down: one problem for the link, not one per camera.
    LINK_DOWN = "link_down"


class IncidentState(enum.StrEnum):
    #: Reported, waiting to be filed (立案) by a reviewer: a detection below its kind's auto-file confidence.
    REPORTED = "reported"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    #: The assignee is on the way (出发).
    EN_ROUTE = "en_route"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    VERIFIED = "verified"
    CLOSED = "closed"
    RETURNED = "returned"
    REJECTED = "rejected"
    REOPENED = "reopened"


#: States in which an incident still absorbs new events (the dedup index covers these).
OPEN_STATES: frozenset[IncidentState] = frozenset(
    {
        IncidentState.REPORTED,
        IncidentState.DISPATCHED,
        IncidentState.ACCEPTED,
        IncidentState.EN_ROUTE,
        IncidentState.IN_PROGRESS,
        IncidentState.REOPENED,
        IncidentState.RETURNED,
    }
)


class Post(enum.StrEnum):
    """A user's post in the hierarchy: what they may do to incidents (router/permissions.py) and where."""

    GRID_WORKER = "grid_worker"
    GRID_LEADER = "grid_leader"
    COMMUNITY = "community"
    TOWNSHIP = "township"
    COUNTY_COMMAND = "county_command"
    #: Configuration, not case handling.
    ADMIN = "admin"


#: The length of the unit code each post is held on; admins hold none (they see everything).
POST_LEVEL: dict[Post, int] = {
    Post.GRID_WORKER: 15,
    Post.GRID_LEADER: 15,
    Post.COMMUNITY: 12,
    Post.TOWNSHIP: 9,
    Post.COUNTY_COMMAND: 6,
    Post.ADMIN: 0,
}


class Severity(enum.IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4


class Tier(enum.StrEnum):
    GRID = "grid"
    COMMUNITY = "community"
    TOWNSHIP = "township"
    COUNTY = "county"


class LocatedBy(enum.StrEnum):
    """How an incident's place was found; anything but HOMOGRAPHY is flagged to operators."""

    HOMOGRAPHY = "homography"
    CAMERA_MOUNT = "camera_mount"


class GridMatch(enum.StrEnum):
    INSIDE = "inside"
    NEAREST = "nearest"  # in no grid, but within the snapping distance of one
    HIGHER_UNIT = "higher_unit"  # in no grid and far from all: routed to the containing township/county


@dataclass(frozen=True, slots=True)
class Unit:
    """A node of the hierarchy: county, township, community or grid."""

    code: str
    name: str
    level: UnitLevel
    parent_code: str | None


@dataclass(frozen=True, slots=True)
class Grid:
    code: str
    name: str
    kind: GridKind
    county_code: str
    county_name: str
    township_code: str
    township_name: str
    community_code: str
    community_name: str
    #: GeoJSON geometry (Polygon or MultiPolygon) in WGS84 lon/lat.
    geometry: dict[str, Any]
    exclusive_type: str | None = None
    households: int | None = None

    def chain(self) -> list[Unit]:
        """The grid and its ancestors, county first."""
        return [
            Unit(self.county_code, self.county_name, UnitLevel.COUNTY, None),
            Unit(self.township_code, self.township_name, UnitLevel.TOWNSHIP, self.county_code),
            Unit(self.community_code, self.community_name, UnitLevel.COMMUNITY, self.township_code),
            Unit(self.code, self.name, UnitLevel.GRID, self.community_code),
        ]


@dataclass(frozen=True, slots=True)
class Shift:
    """One roster row: a worker on duty for a unit on some weekdays between two wall-clock times."""

    worker_id: str
    name: str
    phone: str
    role: Role
    unit_code: str
    #: ISO weekdays (Monday = 1) on which the shift *starts*.
    weekdays: frozenset[int]
    #: Minutes after local midnight; end may be 1440 (24:00) or below start (runs past midnight).
    start_minute: int
    end_minute: int


@dataclass(frozen=True, slots=True)
class CalibrationPoint:
    px: Pixel
    lonlat: LonLat


@dataclass(frozen=True, slots=True)
class Mount:
    lonlat: LonLat
    height_m: float | None = None
    heading_deg: float | None = None


#: What a line zone watches unless told otherwise: a fire lane is kept clear of vehicles, not walkers.
DEFAULT_LINE_LABELS: tuple[str, ...] = ("vehicle",)


@dataclass(frozen=True, slots=True)
class StaticMassSettings:
    """Occupation by anything (detect/static_mass.py): how a zone watches for new static masses."""

    #: A picture of the empty scene taken when the zone was calibrated; None: learned from the first frames.
    reference_image: str | None = None
    #: Smallest mass reported, as a fraction of the zone's area.
    min_area_fraction: float = 0.02
    #: "HH:MM-HH:MM" spans (local time, may wrap past midnight) when occupying is prohibited; empty: always.
    prohibited_hours: tuple[str, ...] = ()
    timezone: str = "Asia/Shanghai"
    #: After this long a mass that never moves becomes part of the empty scene (a new kiosk, a planter).
    absorb_seconds: float = 4 * 3600.0
    #: What an unnamed mass here is: "debris" (乱堆物堆料, label ``object``) or "goods" (店外经营 on a
    #: shopfront's pavement, label ``goods``); the incident's catalogue entry follows (models/catalogue.json).
    occupant: str = "debris"


@dataclass(frozen=True, slots=True)
class CrowdWindow:
    """Crowd thresholds for one local time-of-day span, set per grid kind in the site file
    (``policies.crowd_thresholds``) and attached by the centre to the crowd zones lying in such a grid."""

    #: "HH:MM-HH:MM" local time (may wrap past midnight).
    hours: str
    timezone: str = "Asia/Shanghai"
    #: Each None keeps the zone's own value.
    min_persons: int | None = None
    min_density_per_m2: float | None = None
    min_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Zone:
    name: str
    kind: ZoneKind
    #: A polygon of 3 or more vertices; for a LINE zone exactly 2 points, the segment A→B.
    polygon_px: tuple[Pixel, ...]
    #: crowd: persons needed in the zone.
    min_persons: int = 5
    #: seconds a condition must hold before an event starts.
    min_seconds: float = 5.0
    #: seconds a condition must be absent before an event ends (hysteresis); line: seconds before the same
    #: track may raise another crossing.
    cooldown_seconds: float = 10.0
    #: line: which side change counts (LineDirection documents the sides).
    direction: LineDirection = LineDirection.BOTH
    #: line: meanings (detect/labels.py) whose crossings count; other kinds choose their labels themselves.
    labels: tuple[str, ...] = DEFAULT_LINE_LABELS
    #: occupation: the class-agnostic static-mass watch; None turns it off for the zone.
    static_mass: StaticMassSettings | None = None
    #: crowd: persons per m² of ground (the zone's area through the camera's calibration) also needed;
    #: None: the count alone decides.
    min_density_per_m2: float | None = None
    #: crowd: its grid kind's thresholds by time of day (the first window holding the local time wins);
    #: derived by the centre from the grid and the site's policies, never stored with the camera.
    crowd_windows: tuple[CrowdWindow, ...] = ()


@dataclass(frozen=True, slots=True)
class OnvifEndpoint:
    """Where a camera's ONVIF device service is; the password stays a ``${ENV}`` placeholder until used."""

    host: str
    port: int = 80
    user: str | None = None
    #: ``${VAR}`` naming the environment variable that holds the password, or None.
    password: str | None = None
    #: False: the site says not to subscribe to this camera's events.
    events: bool = True

    @property
    def password_env(self) -> str | None:
        if self.password is None:
            return None
        match = ENV_PLACEHOLDER.fullmatch(self.password)
        return match.group(1) if match else None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Camera:
    id: str
    name: str
    #: rtsp(s):// URL, or a local video file path for demos and tests (never accepted from the API).
    source: str
    frame_size: tuple[int, int]
    mount: Mount
    calibration: tuple[CalibrationPoint, ...] = ()
    zones: tuple[Zone, ...] = ()
    analysis_fps: float = 2.0
    enabled: bool = True
    #: Its ONVIF device service, when its own events (tamper, video loss, analytics) are subscribed to.
    onvif: OnvifEndpoint | None = None


@dataclass(frozen=True, slots=True)
class Detection:
    xyxy: XYXY
    confidence: float
    label: str
    class_id: int
    track_id: int | None = None

    @property
    def foot(self) -> Pixel:
        """Bottom-centre of the box: where the object touches the ground plane."""
        x1, _, x2, y2 = self.xyxy
        return ((x1 + x2) / 2.0, y2)


@dataclass(frozen=True, slots=True)
class Evidence:
    """A stored artefact (snapshot, clip) referenced by an opaque id and its sha256."""

    id: str
    media_type: str
    sha256: str
    size: int
    #: "snapshot" (boxes drawn), "clean" (as the camera saw it) or "clip" (an MP4 around the event).
    role: str = "snapshot"


@dataclass(frozen=True, slots=True)
class EvidenceBlob:
    """Evidence with its bytes, on its way to the store."""

    role: str
    media_type: str
    sha256: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Event:
    """Something a camera saw that may deserve an incident; produced by detect/, consumed by router/."""

    kind: EventKind
    camera_id: str
    zone_name: str | None
    started_at: datetime
    confidence: float
    #: Boxes of the objects that make up the event, in image pixels.
    detections: tuple[Detection, ...] = ()
    ended_at: datetime | None = None
    evidence: tuple[Evidence, ...] = ()
    person_count: int | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True, slots=True)
class Assignee:
    worker_id: str
    name: str
    phone: str
    role: Role
    unit_code: str


@dataclass(frozen=True, slots=True)
class DutyResult:
    """Who is on duty for a grid at an instant, and the chain that was walked to find them."""

    assignee: Assignee | None
    #: Everyone of the assignee's role on duty for that unit (assignee first).
    on_duty: tuple[Assignee, ...]
    #: (role, unit_code, found) for each step of the fallback chain that was tried.
    tried: tuple[tuple[Role, str, bool], ...]
    #: (absent worker id, cover worker id) for each absent worker whose cover stood in on the way.
    covers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an event happened and which unit owns it."""

    lonlat: LonLat
    located_by: LocatedBy
    grid_match: GridMatch
    grid_code: str | None
    #: The owning unit: the grid, or the higher unit it fell back to.
    unit_code: str
    chain: tuple[Unit, ...]
    distance_m: float = 0.0


@dataclass(frozen=True, slots=True)
class Triage:
    severity: Severity
    tier: Tier
    department: str
    category_code: str


@dataclass(frozen=True, slots=True)
class Absence:
    """A rostered worker away (leave, sickness, training) from one instant to another, and who covers."""

    worker_id: str
    starts_at: datetime
    ends_at: datetime
    #: The roster id of the worker who takes their cases meanwhile; None: the duty chain goes on without.
    cover_id: str | None = None
    reason: str = ""
    #: Where it came from: "api" (entered by hand) or "import" (a roster CSV, replaced by the next import).
    source: str = "api"
    id: int | None = None

    def covers(self, at: datetime) -> bool:
        """Whether the worker is away at ``at``: [starts_at, ends_at)."""
        return self.starts_at <= at < self.ends_at
