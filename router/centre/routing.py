"""The router as the centre runs it: built from what the store holds, rebuilt when the site changes."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from models.records import Camera, Event, EventKind
from models.store import Store
from router.crowd_thresholds import unknown_kinds, with_crowd_windows
from router.crs import haversine_m
from router.deadlines import DEFAULT_POLICY, DeadlinePolicy
from router.duty import Roster
from router.geo import Homography, OffGroundError, camera_homography
from router.grids import GridIndex
from router.pipeline import DEFAULT_MAX_GROUND_RANGE_M, IncidentDraft, Router
from router.policies import Policies
from router.triage import DEFAULT_TABLE, TriageTable

logger = logging.getLogger(__name__)


def camera_coverage(
    camera: Camera, homography: Homography | None, grids: GridIndex, steps: int = 8
) -> frozenset[str]:
    """The units whose ground the camera sees: its mount's unit plus every grid under a pixel lattice."""
    codes = {grids.locate(camera.mount.lonlat).unit_code}
    if homography is not None:
        width, height = camera.frame_size
        for i in range(steps + 1):
            for j in range(steps + 1):
                try:
                    ground = homography.to_ground((width * i / steps, height * j / steps))
                except OffGroundError:
                    continue
                if haversine_m(ground, camera.mount.lonlat) <= DEFAULT_MAX_GROUND_RANGE_M:
                    codes.add(grids.locate(ground).unit_code)
    return frozenset(codes)


class NotLoaded(RuntimeError):
    pass


class Routing:
    """Grids, roster and cameras from the store, as one Router; and which units each camera's picture covers.

    ``load`` swaps in a new Router in one assignment, so an event is always routed against one consistent
    site, and a registry change or an import applies without a restart.
    """

    def __init__(
        self,
        store: Store,
        *,
        timezone: str = "Asia/Shanghai",
        triage: TriageTable = DEFAULT_TABLE,
        policy: DeadlinePolicy = DEFAULT_POLICY,
        policies: Policies | None = None,
    ) -> None:
        """``policies`` (the site file's), when given, supplies the triage table and deadlines too."""
        self._store = store
        self.timezone = timezone
        self._policies = policies or Policies(triage=triage, deadlines=policy)
        self._triage = self._policies.triage
        self._policy = self._policies.deadlines
        self._router: Router | None = None
        self.cameras: Mapping[str, Camera] = {}
        #: Unit codes each camera's picture covers: who may watch it.
        self.camera_units: Mapping[str, frozenset[str]] = {}
        #: The roster version (store.roster.version) the router's roster was read at; 0 before a load.
        self.roster_version = 0

    async def load(self) -> None:
        grids = GridIndex(await self._store.grids.load())
        roster = await self._load_roster()
        unknown = unknown_kinds(self._policies.crowd_thresholds, grids)
        if unknown:
            logger.warning(
                "policies.crowd_thresholds names grid kinds no grid has (%s): they apply nowhere",
                ", ".join(unknown),
            )
        stored = await self._store.cameras.load()
        homographies = {c.id: camera_homography(c) for c in stored}
        # The analysis role gets its cameras from here: crowd zones carry their grid kind's thresholds.
        cameras = {
            c.id: with_crowd_windows(
                c,
                homographies[c.id],
                grids,
                self._policies.crowd_thresholds,
                timezone=self.timezone,
                snap_m=self._policies.snap_m,
            )
            for c in stored
        }
        self._router = Router(
            grids,
            roster,
            homographies,
            cameras,
            self._triage,
            self._policy,
            snap_m=self._policies.snap_m,
            dedup_cell_m=self._policies.dedup_cell_m,
            filing=self._policies.filing,
        )
        self.cameras = cameras
        self.camera_units = {cid: camera_coverage(c, homographies[cid], grids) for cid, c in cameras.items()}

    def reviews(self, kind: EventKind) -> bool:
        """Whether some detections of ``kind`` wait for review (the site's file_above for it is above 0)."""
        return self._policies.filing.file_above.get(kind, 0.0) > 0

    async def reload_roster(self) -> int:
        """Read shifts and absences again and swap them into the router in one assignment; returns the
        version read (a change committed meanwhile leaves it behind, so the next check reloads again)."""
        if self._router is None:
            await self.load()
            return self.roster_version
        self._router.roster = await self._load_roster()
        return self.roster_version

    async def _load_roster(self) -> Roster:
        # The version first: a change that commits while we read is then newer than what we record.
        version = await self._store.roster.version()
        shifts, absences = await self._store.roster.load(), await self._store.roster.absences()
        roster = Roster(shifts, tz=self.timezone, absences=absences)
        self.roster_version = version
        return roster

    def roster(self) -> Roster | None:
        """The roster events are routed with now (None before the first load)."""
        return self._router.roster if self._router is not None else None

    def route(self, event: Event, at: datetime) -> IncidentDraft:
        if self._router is None:
            raise NotLoaded("routing has not loaded the site yet")
        return self._router.route(event, at=at)

    def route_many(self, events: Sequence[Event]) -> list[IncidentDraft | Exception]:
        """Each event routed at its capture time, as ``route`` would; an error in the place of an event that
        cannot be routed."""
        if self._router is None:
            raise NotLoaded("routing has not loaded the site yet")
        return self._router.route_many(events)
