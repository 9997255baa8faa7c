"""Event → IncidentDraft: place it on the ground, find its grid, triage it, find who is on duty.

The Router holds only references to immutable lookups (grid index, roster, homographies, cameras,
triage table). Replacing one is a single attribute assignment, so a new roster or grid layer takes
effect on the next event without a restart, and an event is always routed against one consistent set.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from models.incidents import IncidentOpening
from models.records import (
    Camera,
    DutyResult,
    Event,
    EventKind,
    IncidentState,
    LocatedBy,
    LonLat,
    Placement,
    Triage,
)
from router.deadlines import DEFAULT_POLICY, DeadlinePolicy, TimerKind
from router.dedup import dedup_key
from router.duty import Roster
from router.geo import Homography, OffGroundError
from router.grids import GridIndex, GridLocation
from router.policies import DEFAULT_FILING, FilingPolicy
from router.triage import TriageTable

KIND_TITLES: Mapping[EventKind, str] = MappingProxyType(
    {
        EventKind.CROWD: "人员聚集",
        EventKind.FIRE: "火情",
        EventKind.SMOKE: "烟雾",
        EventKind.OCCUPATION: "占道",
        EventKind.FALL: "人员倒地",
        EventKind.LINE_CROSSING: "越线闯入",
        EventKind.CAMERA_OFFLINE: "摄像头离线",
        EventKind.CAMERA_TAMPER: "摄像头遮挡/破坏",
        EventKind.LINK_DOWN: "乡镇链路中断",
    }
)

# Feet this far from the mount come from pixels just below the horizon, where a pixel spans tens of
# metres; a pole camera sees nothing useful that far, so such points are dropped, not trusted.
DEFAULT_MAX_GROUND_RANGE_M = 1000.0


class UnknownCameraError(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class IncidentDraft:
    """Everything the store needs to insert (or fold into) an incident."""

    kind: EventKind
    placement: Placement
    triage: Triage
    duty: DutyResult
    dedup_key: str
    title: str
    opened_at: datetime
    accept_by: datetime
    camera_id: str
    event: Event
    #: The ground point under each of the event's boxes (bottom-centre), None where there is none.
    ground_points: tuple[LonLat | None, ...] = ()
    #: Every step's deadline (accept_by among them), from the router's DeadlinePolicy.
    deadlines: Mapping[TimerKind, datetime] = field(default_factory=dict)
    #: DISPATCHED when filed as it opens; REPORTED when its confidence is below the kind's file_above.
    state: IncidentState = IncidentState.DISPATCHED

    def opening(self) -> IncidentOpening:
        """What the store needs to open this incident, or to fold the event into the open one."""
        # A case waiting for review is nobody's yet and runs no clock: filing it dispatches it to whoever is
        # on duty then and arms its deadlines (router/centre/casework.py).
        filed = self.state is IncidentState.DISPATCHED
        assignee = self.duty.assignee if filed else None
        return IncidentOpening(
            kind=self.kind,
            severity=self.triage.severity,
            tier=self.triage.tier,
            department=self.triage.department,
            category_code=self.triage.category_code,
            unit_code=self.placement.unit_code,
            grid_code=self.placement.grid_code,
            grid_match=self.placement.grid_match.value,
            chain=self.placement.chain,
            lonlat=self.placement.lonlat,
            located_by=self.placement.located_by,
            camera_id=self.camera_id,
            dedup_key=self.dedup_key,
            title=self.title,
            at=self.opened_at,
            accept_by=self.accept_by if filed else None,
            assignee_id=assignee.worker_id if assignee else None,
            assignee_name=assignee.name if assignee else None,
            assignee_phone=assignee.phone if assignee else None,
            ground_points=self.ground_points,
            duty={
                "on_duty": [a.worker_id for a in self.duty.on_duty],
                "role": assignee.role.value if assignee else None,
                "tried": [[role.value, unit, found] for role, unit, found in self.duty.tried],
                "covers": [{"absent": away, "cover": cover} for away, cover in self.duty.covers],
            },
            deadlines={kind.value: due for kind, due in self.deadlines.items()} if filed else {},
            state=self.state,
        )


@dataclass(frozen=True, slots=True)
class GroundFix:
    lonlat: LonLat
    located_by: LocatedBy
    #: Each detection's foot on the ground, in the event's order; None where it is off the ground plane
    #: or beyond the camera's range (empty without a homography).
    feet: tuple[LonLat | None, ...] = ()


def ground_point(
    camera: Camera,
    homography: Homography | None,
    event: Event,
    max_range_m: float = DEFAULT_MAX_GROUND_RANGE_M,
) -> GroundFix:
    """The coordinate-wise median of the detections' feet on the ground, else the camera mount.

    The median, unlike the mean, ignores the odd box whose foot is hidden or mis-detected.
    """
    if homography is None:
        return GroundFix(camera.mount.lonlat, LocatedBy.CAMERA_MOUNT)
    # The range is judged in the homography's own metric frame (exact to 0.02 % within 2 km of its
    # origin), not by a great-circle distance per box: the centre routes every box of every event.
    projection = homography.projection
    mount_x, mount_y = projection.to_xy(camera.mount.lonlat)
    reach = max_range_m * max_range_m
    each: list[LonLat | None] = []
    for detection in event.detections:
        try:
            x, y = homography.to_ground_xy(detection.foot)
        except OffGroundError:
            each.append(None)
            continue
        each.append(None if (x - mount_x) ** 2 + (y - mount_y) ** 2 > reach else projection.to_lonlat((x, y)))
    feet = [f for f in each if f is not None]
    if feet:
        lonlat = (statistics.median(f[0] for f in feet), statistics.median(f[1] for f in feet))
        return GroundFix(lonlat, LocatedBy.HOMOGRAPHY, tuple(each))
    return GroundFix(camera.mount.lonlat, LocatedBy.CAMERA_MOUNT, tuple(each))


class Router:
    def __init__(
        self,
        grids: GridIndex,
        roster: Roster,
        homographies: Mapping[str, Homography | None],
        cameras: Mapping[str, Camera],
        triage: TriageTable,
        policy: DeadlinePolicy = DEFAULT_POLICY,
        snap_m: float = 50.0,
        dedup_cell_m: float = 100.0,
        max_ground_range_m: float = DEFAULT_MAX_GROUND_RANGE_M,
        filing: FilingPolicy = DEFAULT_FILING,
    ) -> None:
        self.grids = grids
        self.roster = roster
        self.homographies = homographies
        self.cameras = cameras
        self.triage = triage
        self.policy = policy
        self.snap_m = snap_m
        self.dedup_cell_m = dedup_cell_m
        self.max_ground_range_m = max_ground_range_m
        self.filing = filing

    def route(self, event: Event, at: datetime, absent: frozenset[str] = frozenset()) -> IncidentDraft:
        """Route an event seen at `at` (aware); `absent` names workers known to be unreachable."""
        if at.tzinfo is None:
            raise ValueError("route needs a timezone-aware instant")
        # One read of each attribute: a concurrent replacement cannot mix old and new lookups.
        grids, roster = self.grids, self.roster
        camera, fix = self._fix(event)
        return self._draft(
            event, at, absent, camera, fix, grids.locate(fix.lonlat, self.snap_m), grids, roster
        )

    def route_many(self, events: Sequence[Event]) -> list[IncidentDraft | Exception]:
        """``route`` for many events, each at its capture time, the grids looked up together; an event that
        cannot be routed gets its error in its place."""
        grids, roster = self.grids, self.roster
        fixes: list[tuple[Camera, GroundFix] | Exception] = []
        for event in events:
            try:
                if event.started_at.tzinfo is None:
                    raise ValueError("route needs a timezone-aware instant")
                fixes.append(self._fix(event))
            except Exception as exc:  # this event's fault: the others are routed
                fixes.append(exc)
        placed = [fix for fix in fixes if not isinstance(fix, Exception)]
        locations = iter(grids.locate_many([fix.lonlat for _, fix in placed], self.snap_m))
        drafts: list[IncidentDraft | Exception] = []
        for event, fixed in zip(events, fixes, strict=True):
            if isinstance(fixed, Exception):
                drafts.append(fixed)
                continue
            camera, fix = fixed
            try:
                location = next(locations)
                drafts.append(
                    self._draft(event, event.started_at, frozenset(), camera, fix, location, grids, roster)
                )
            except Exception as exc:
                drafts.append(exc)
        return drafts

    def _fix(self, event: Event) -> tuple[Camera, GroundFix]:
        camera = self.cameras.get(event.camera_id)
        if camera is None:
            raise UnknownCameraError(f"event {event.id} names unknown camera {event.camera_id!r}")
        return camera, ground_point(camera, self.homographies.get(camera.id), event, self.max_ground_range_m)

    def _draft(
        self,
        event: Event,
        at: datetime,
        absent: frozenset[str],
        camera: Camera,
        fix: GroundFix,
        location: GridLocation,
        grids: GridIndex,
        roster: Roster,
    ) -> IncidentDraft:
        placement = Placement(
            lonlat=fix.lonlat,
            located_by=fix.located_by,
            grid_match=location.grid_match,
            grid_code=location.grid_code,
            unit_code=location.unit_code,
            chain=location.chain,
            distance_m=location.distance_m,
        )
        grid = grids.get(location.grid_code) if location.grid_code is not None else None
        triage = self.triage.triage(
            event.kind, grid.kind if grid else None, grid.exclusive_type if grid else None
        )
        deadlines = self.policy.deadlines(triage.severity, at)
        return IncidentDraft(
            kind=event.kind,
            placement=placement,
            triage=triage,
            duty=roster.resolve(location.unit_code, at, absent),
            dedup_key=dedup_key(location.unit_code, event.kind, fix.lonlat, self.dedup_cell_m),
            title=incident_title(event.kind, location.chain[-1].name),
            opened_at=at,
            accept_by=deadlines[TimerKind.ACCEPT],
            camera_id=camera.id,
            event=event,
            ground_points=fix.feet,
            deadlines=deadlines,
            state=self.filing.opening_state(event.kind, event.confidence),
        )


def incident_title(kind: EventKind, unit_name: str) -> str:
    return f"{KIND_TITLES[kind]} {kind.value} · {unit_name}"
