from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from statistics import median
from zoneinfo import ZoneInfo

import pytest

from models.records import Detection, Event, EventKind, GridMatch, LocatedBy, Role, Severity, Shift
from router.duty import Roster
from router.geo import camera_homography
from router.grids import GridIndex
from router.pipeline import IncidentDraft, Router, UnknownCameraError, ground_point
from router.triage import DEFAULT_TABLE
from tests.router.demo_data import CAMERA_ID, demo_cameras, demo_facts, demo_grids, demo_shifts

SHANGHAI = ZoneInfo("Asia/Shanghai")
CAMERA = demo_cameras()[CAMERA_ID]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def person(foot_x: float, foot_y: float) -> Detection:
    return Detection((foot_x - 15, foot_y - 80, foot_x + 15, foot_y), 0.8, "person", 0)


LEFT_CROWD = tuple(person(x, y) for x, y in [(180, 390), (200, 400), (220, 410), (210, 395), (190, 405)])
RIGHT_CROWD = tuple(person(x, y) for x, y in [(580, 390), (600, 400), (620, 410), (610, 395), (590, 405)])


def event(kind: EventKind, detections: tuple[Detection, ...], started: datetime) -> Event:
    return Event(kind, CAMERA_ID, "road", started, 0.9, detections, person_count=len(detections))


@pytest.fixture
def router() -> Router:
    return Router(
        grids=GridIndex(demo_grids()),
        roster=Roster(demo_shifts()),
        homographies={CAMERA_ID: camera_homography(CAMERA)},
        cameras=demo_cameras(),
        triage=DEFAULT_TABLE,
    )


@pytest.mark.parametrize(
    ("detections", "instant", "fact", "worker", "name"),
    [
        (LEFT_CROWD, "2026-11-23 10:00", "grid_left_half", "w001", "王芳"),
        (LEFT_CROWD, "2026-11-23 21:00", "grid_left_half", "w002", "李强"),
        (RIGHT_CROWD, "2026-11-23 10:00", "grid_right_half", "w003", "张伟"),
        (RIGHT_CROWD, "2026-11-24 02:00", "grid_right_half", "w004", "刘洋"),
    ],
)
def test_demo_crowd_end_to_end(
    router: Router, detections: tuple[Detection, ...], instant: str, fact: str, worker: str, name: str
) -> None:
    now = at(instant)
    crowd = event(EventKind.CROWD, detections, now - timedelta(seconds=6))
    draft = router.route(crowd, now)
    assert draft.placement.grid_code == demo_facts()[fact]
    assert (draft.placement.located_by, draft.placement.grid_match) == (
        LocatedBy.HOMOGRAPHY,
        GridMatch.INSIDE,
    )
    assert draft.duty.assignee is not None
    assert (draft.duty.assignee.worker_id, draft.duty.assignee.name) == (worker, name)
    assert draft.triage.severity is Severity.HIGH and draft.triage.department == "综治/公安"
    assert (draft.opened_at, draft.accept_by) == (now, now + timedelta(minutes=10))
    assert draft.dedup_key.startswith(f"{demo_facts()[fact]}|crowd|")
    assert (draft.camera_id, draft.event, draft.kind) == (CAMERA_ID, crowd, EventKind.CROWD)


def test_title_names_the_kind_in_both_languages_and_the_grid(router: Router) -> None:
    draft = router.route(event(EventKind.CROWD, LEFT_CROWD, at("2026-11-23 10:00")), at("2026-11-23 10:00"))
    assert draft.title == "人员聚集 crowd · 东关一网格"


@pytest.mark.parametrize(
    ("kind", "severity", "minutes"),
    [
        (EventKind.FIRE, Severity.CRITICAL, 5),
        (EventKind.FALL, Severity.HIGH, 10),
        (EventKind.OCCUPATION, Severity.MEDIUM, 30),
        (EventKind.CAMERA_OFFLINE, Severity.LOW, 120),
    ],
)
def test_accept_deadline_follows_severity(
    router: Router, kind: EventKind, severity: Severity, minutes: int
) -> None:
    now = at("2026-11-23 10:00")
    draft = router.route(event(kind, LEFT_CROWD, now), now)
    assert draft.triage.severity is severity
    assert draft.accept_by - draft.opened_at == timedelta(minutes=minutes)


def test_the_median_foot_ignores_a_stray_box(router: Router) -> None:
    now = at("2026-11-23 10:00")
    stray = person(700, 560)  # far right: alone it would land in 东关二网格
    draft = router.route(event(EventKind.CROWD, (*LEFT_CROWD, stray), now), now)
    assert draft.placement.grid_code == demo_facts()["grid_left_half"]


@pytest.mark.parametrize(
    ("homography", "detections"),
    [
        (False, LEFT_CROWD),  # uncalibrated camera
        (True, ()),  # camera_offline and other events without boxes
        (True, (person(384, -4000),)),  # a foot above the horizon is not on the ground
    ],
)
def test_without_a_ground_fix_the_camera_mount_is_used(
    router: Router, homography: bool, detections: tuple[Detection, ...]
) -> None:
    if not homography:
        router.homographies = {CAMERA_ID: None}
    now = at("2026-11-23 10:00")
    draft = router.route(event(EventKind.CAMERA_OFFLINE, detections, now), now)
    assert draft.placement.lonlat == CAMERA.mount.lonlat
    assert draft.placement.located_by is LocatedBy.CAMERA_MOUNT
    # The demo mount sits on the 东关一/二 border; the lower code wins.
    assert draft.placement.grid_code == "379901001001001"


def test_feet_beyond_the_range_limit_are_dropped() -> None:
    homography = camera_homography(CAMERA)
    assert homography is not None
    # The top edge of the frame images ground about 110 m from the mount.
    far_foot = person(384, 0)
    crowd = event(EventKind.CROWD, (far_foot,), at("2026-11-23 10:00"))
    assert ground_point(CAMERA, homography, crowd, 200.0).located_by is LocatedBy.HOMOGRAPHY
    fix = ground_point(CAMERA, homography, crowd, 50.0)
    assert (fix.located_by, fix.lonlat) == (LocatedBy.CAMERA_MOUNT, CAMERA.mount.lonlat)
    assert fix.feet == (None,)  # the box is kept in order, with no ground point


def test_each_box_gets_its_own_ground_point_and_the_draft_carries_them(router: Router) -> None:
    homography = camera_homography(CAMERA)
    assert homography is not None
    now = at("2026-11-23 10:00")
    boxes = (*LEFT_CROWD, person(384, -4000))  # the last foot is above the horizon
    draft = router.route(event(EventKind.CROWD, boxes, now), now)
    assert len(draft.ground_points) == len(boxes) and draft.ground_points[-1] is None
    for box, point in zip(LEFT_CROWD, draft.ground_points, strict=False):
        assert point == homography.to_ground(box.foot)
    # The incident's place is the median of those points.
    known = [p for p in draft.ground_points if p is not None]
    assert draft.placement.lonlat == (median(p[0] for p in known), median(p[1] for p in known))


def test_roster_changes_apply_without_restart(router: Router) -> None:
    now = at("2026-11-23 10:00")
    crowd = event(EventKind.CROWD, LEFT_CROWD, now)
    assert _assignee(router.route(crowd, now)) == "w001"
    stand_in = Shift(
        "w099", "代班", "13800000099", Role.GRID_WORKER, "379901001001001", frozenset({1}), 540, 660
    )
    router.roster = Roster([*demo_shifts(), stand_in])
    # w001 still sorts first; with w001 away the stand-in from the new roster takes it.
    assert _assignee(router.route(crowd, now, absent=frozenset({"w001"}))) == "w099"
    router.roster = Roster([s for s in demo_shifts() if s.worker_id != "w001"])
    assert _assignee(router.route(crowd, now)) == "w008"


def test_grid_layer_changes_apply_without_restart(router: Router) -> None:
    now = at("2026-11-23 10:00")
    crowd = event(EventKind.CROWD, LEFT_CROWD, now)
    left = demo_facts()["grid_left_half"]
    router.grids = GridIndex([g for g in demo_grids() if g.code != left])
    draft = router.route(crowd, now)
    # Left half gone: the crowd, a few metres from the old border, snaps to the right-hand grid.
    assert draft.placement.grid_match is GridMatch.NEAREST
    assert 0 < draft.placement.distance_m < 10
    assert draft.placement.grid_code == demo_facts()["grid_right_half"]


def test_an_exclusive_grid_raises_a_crowd(router: Router) -> None:
    market = next(g for g in demo_grids() if g.code == "379901001002004")
    # Pretend the left half is a market grid.
    left = demo_facts()["grid_left_half"]
    router.grids = GridIndex([replace(g, kind=market.kind) if g.code == left else g for g in demo_grids()])
    now = at("2026-11-23 10:00")
    draft = router.route(event(EventKind.CROWD, LEFT_CROWD, now), now)
    assert draft.triage.severity is Severity.CRITICAL
    assert draft.accept_by - now == timedelta(minutes=5)


def test_unknown_camera_and_naive_time_are_refused(router: Router) -> None:
    now = at("2026-11-23 10:00")
    with pytest.raises(UnknownCameraError, match="cam-nowhere"):
        router.route(replace(event(EventKind.CROWD, LEFT_CROWD, now), camera_id="cam-nowhere"), now)
    with pytest.raises(ValueError, match="timezone-aware"):
        router.route(event(EventKind.CROWD, LEFT_CROWD, now), datetime(2026, 11, 23, 10, 0))


def test_draft_is_immutable(router: Router) -> None:
    now = at("2026-11-23 10:00")
    draft: IncidentDraft = router.route(event(EventKind.FIRE, LEFT_CROWD, now), now)
    with pytest.raises(AttributeError):
        draft.title = "x"  # type: ignore[misc]


def _assignee(draft: IncidentDraft) -> str | None:
    return draft.duty.assignee.worker_id if draft.duty.assignee else None


def test_routing_many_at_once_places_each_event_as_routing_it_alone_would(router: Router) -> None:
    # The centre's stream intake routes a whole fetch at once (one grid query for all of its points).
    t0 = at("2026-11-23 10:00")
    events = [
        event(EventKind.CROWD, LEFT_CROWD, t0),
        event(EventKind.CROWD, RIGHT_CROWD, at("2026-11-24 02:00")),
        event(EventKind.FIRE, (), t0),  # no boxes: placed at the camera's mount
        event(EventKind.CROWD, (person(400, 5),), t0),  # a foot near the horizon, far beyond range
        replace(event(EventKind.CROWD, LEFT_CROWD, t0), camera_id="no-such-camera"),
        event(EventKind.CROWD, LEFT_CROWD, t0.replace(tzinfo=None)),
        event(EventKind.CROWD, LEFT_CROWD + RIGHT_CROWD, t0),
    ]
    many = router.route_many(events)
    assert len(many) == len(events)
    for one, routed in zip(events, many, strict=True):
        try:
            alone = router.route(one, one.started_at)
        except (UnknownCameraError, ValueError) as exc:
            assert isinstance(routed, type(exc)) and str(routed) == str(exc)
            continue
        assert routed == alone
    assert isinstance(many[4], UnknownCameraError) and isinstance(many[5], ValueError)
    assert {d.placement.grid_code for d in many[:2] if isinstance(d, IncidentDraft)} == {
        demo_facts()["grid_left_half"],
        demo_facts()["grid_right_half"],
    }
    assert router.route_many([]) == []
