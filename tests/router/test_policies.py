"""The site file's policies as the router runs them: today's values when left out, the file's when given."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from models.config import PoliciesSection, load_site_config
from models.records import Detection, Event, EventKind, GridKind, IncidentState, Severity, Tier, Triage
from router.deadlines import DEFAULT_POLICY, DEFAULT_WINDOWS, StepWindows, TimerKind
from router.duty import Roster
from router.geo import camera_homography
from router.grids import GridIndex
from router.pipeline import Router
from router.policies import DEFAULT_POLICIES, Policies, build_policies
from router.triage import DEFAULT_EXCLUSIVE_RAISE, DEFAULT_TABLE, DEFAULT_TRIAGE
from tests.models.config.site_file import EXAMPLE
from tests.router.demo_data import CAMERA_ID, demo_cameras, demo_grids, demo_shifts

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
LEFT_GRID = "379901001001001"


def _section(data: dict[str, object]) -> PoliciesSection:
    return PoliciesSection.model_validate(data)


def _every_triage(policies: Policies) -> dict[tuple[EventKind, GridKind | None, str | None], Triage]:
    return {
        (kind, grid_kind, kind_of): policies.triage.triage(kind, grid_kind, kind_of)
        for kind in EventKind
        for grid_kind, kind_of in ((None, None), (GridKind.BASIC, None), (GridKind.EXCLUSIVE, None),
                                   (GridKind.EXCLUSIVE, "market"), (GridKind.EXCLUSIVE, "school"))
    }  # fmt: skip


def _same_as_today(policies: Policies) -> None:
    assert _every_triage(policies) == _every_triage(Policies())
    assert dict(policies.deadlines.windows) == dict(DEFAULT_WINDOWS)
    # Every detection is filed as it opens, however low its confidence.
    assert {policies.filing.opening_state(kind, 0.0) for kind in EventKind} == {IncidentState.DISPATCHED}
    assert (policies.offline_after_s, policies.dedup_cell_m, policies.snap_m) == (300.0, 100.0, 50.0)


@pytest.mark.parametrize(
    "section",
    [PoliciesSection(), load_site_config(EXAMPLE).policies],
    ids=["no policies section", "the example's section"],
)
def test_a_file_without_policies_and_the_example_run_on_todays_values(section: PoliciesSection) -> None:
    _same_as_today(build_policies(section))


def test_the_defaults_are_todays_constants() -> None:
    """Fails if a default here drifts from the constant the code used before the section existed."""
    router = Router(GridIndex(demo_grids()), Roster([]), {}, {}, DEFAULT_TABLE)
    assert DEFAULT_POLICIES.triage is DEFAULT_TABLE and DEFAULT_POLICIES.deadlines is DEFAULT_POLICY
    assert (DEFAULT_POLICIES.snap_m, DEFAULT_POLICIES.dedup_cell_m) == (router.snap_m, router.dedup_cell_m)
    assert DEFAULT_POLICIES.filing == router.filing
    section = PoliciesSection()
    assert section.offline_after_seconds == DEFAULT_POLICIES.offline_after_s
    assert (section.snap_m, section.dedup_cell_m) == (router.snap_m, router.dedup_cell_m)
    assert DEFAULT_TRIAGE[EventKind.CROWD] == Triage(
        Severity.HIGH, Tier.COMMUNITY, "综治/公安", "GW-CROWD-01"
    )
    assert DEFAULT_WINDOWS[Severity.HIGH] == StepWindows(
        timedelta(minutes=10), timedelta(minutes=30), timedelta(hours=4)
    )
    assert frozenset({EventKind.CROWD}) == DEFAULT_EXCLUSIVE_RAISE


def test_a_triage_row_overrides_only_the_keys_it_gives() -> None:
    policies = build_policies(
        _section({"triage": {"occupation": {"severity": "high", "department": "市场监管"}}})
    )
    assert policies.triage.triage(EventKind.OCCUPATION, GridKind.BASIC) == Triage(
        Severity.HIGH, Tier.GRID, "市场监管", "GW-OCCUPY-01"
    )
    assert policies.triage.triage(EventKind.FIRE, GridKind.BASIC) == DEFAULT_TRIAGE[EventKind.FIRE]


def test_exclusive_grids_and_their_types_get_their_own_rows() -> None:
    policies = build_policies(
        _section(
            {
                "triage": {
                    "crowd": {"severity": "medium"},
                    "occupation": {
                        "exclusive": {"tier": "community"},
                        "exclusive_types": {"school": {"severity": "critical", "department": "教育/城管"}},
                    },
                }
            }
        )
    )
    table = policies.triage
    # Without an exclusive row, a crowd keeps today's one-step raise, now from its new basic severity.
    assert table.triage(EventKind.CROWD, GridKind.EXCLUSIVE).severity is Severity.HIGH
    assert table.triage(EventKind.OCCUPATION, GridKind.EXCLUSIVE, "market") == Triage(
        Severity.MEDIUM, Tier.COMMUNITY, "城管", "GW-OCCUPY-01"
    )
    assert table.triage(EventKind.OCCUPATION, GridKind.EXCLUSIVE, "school") == Triage(
        Severity.CRITICAL, Tier.COMMUNITY, "教育/城管", "GW-OCCUPY-01"
    )
    # A type row applies inside exclusive grids only.
    assert (
        table.triage(EventKind.OCCUPATION, GridKind.BASIC, "school") == DEFAULT_TRIAGE[EventKind.OCCUPATION]
    )


def test_deadlines_merge_per_step_over_todays() -> None:
    policies = build_policies(_section({"deadlines": {"high": {"accept_minutes": 3}}}))
    assert policies.deadlines.windows[Severity.HIGH] == StepWindows(
        timedelta(minutes=3), timedelta(minutes=30), timedelta(hours=4)
    )
    assert policies.deadlines.deadlines(Severity.HIGH, T0)[TimerKind.ACCEPT] == T0 + timedelta(minutes=3)
    assert policies.deadlines.windows[Severity.LOW] == DEFAULT_WINDOWS[Severity.LOW]


@pytest.mark.parametrize(
    ("confidence", "state"), [(0.59, IncidentState.REPORTED), (0.6, IncidentState.DISPATCHED)]
)
def test_filing_is_at_or_above_the_kinds_confidence(confidence: float, state: IncidentState) -> None:
    filing = build_policies(_section({"filing": {"crowd": {"file_above": 0.6}}})).filing
    assert filing.opening_state(EventKind.CROWD, confidence) is state
    assert filing.opening_state(EventKind.FIRE, 0.01) is IncidentState.DISPATCHED


def _router(policies: Policies) -> Router:
    camera = demo_cameras()[CAMERA_ID]
    return Router(
        GridIndex(demo_grids()),
        Roster(demo_shifts()),
        {CAMERA_ID: camera_homography(camera)},
        demo_cameras(),
        policies.triage,
        policies.deadlines,
        snap_m=policies.snap_m,
        dedup_cell_m=policies.dedup_cell_m,
        filing=policies.filing,
    )


def _crowd(confidence: float) -> Event:
    people = tuple(Detection((x, 310, x + 30, 400), 0.8, "person", 0) for x in (180, 200, 220, 210, 190))
    return Event(EventKind.CROWD, CAMERA_ID, "road", T0, confidence, people, person_count=5)


def test_a_draft_below_file_above_opens_reported_for_nobody_and_without_deadlines() -> None:
    router = _router(build_policies(_section({"filing": {"crowd": {"file_above": 0.9}}})))
    draft = router.route(_crowd(0.8), T0)
    opening = draft.opening()
    assert draft.duty.assignee is not None  # who would get it is known and kept in the duty record
    assert (opening.state, opening.assignee_id, opening.accept_by, dict(opening.deadlines)) == (
        IncidentState.REPORTED,
        None,
        None,
        {},
    )
    filed = router.route(_crowd(0.95), T0).opening()
    assert filed.state is IncidentState.DISPATCHED and filed.assignee_id == "w001" and filed.deadlines


def test_the_dedup_cell_and_snap_distance_reach_the_router() -> None:
    policies = replace(DEFAULT_POLICIES, dedup_cell_m=250.0, snap_m=0.0)
    router = _router(policies)
    assert "|250m:" in router.route(_crowd(0.8), T0).dedup_key
    assert router.snap_m == 0.0
    assert router.route(_crowd(0.8), T0).placement.grid_code == LEFT_GRID


def test_verification_windows_change_per_kind_and_zero_leaves_the_kind_to_a_person() -> None:
    assert build_policies(PoliciesSection()).clear_windows == {
        EventKind.CROWD: timedelta(minutes=10),
        EventKind.OCCUPATION: timedelta(minutes=15),
        EventKind.FIRE: timedelta(minutes=5),
        EventKind.SMOKE: timedelta(minutes=5),
    }
    policies = build_policies(_section({"verification": {"crowd": 3, "fire": 0}}))
    assert policies.clear_windows[EventKind.CROWD] == timedelta(minutes=3)
    assert policies.clear_windows[EventKind.OCCUPATION] == timedelta(minutes=15)
    assert EventKind.FIRE not in policies.clear_windows


def test_every_event_kind_has_its_triage_and_filing_keys() -> None:
    # A kind added without its keys breaks routing the moment one of its events arrives.
    from models.config.policies import FilingSection, TriageSection

    kinds = {kind.value for kind in EventKind}
    assert kinds <= set(TriageSection.model_fields) and kinds <= set(FilingSection.model_fields)
