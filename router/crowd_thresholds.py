"""Crowd thresholds per grid kind and time of day: a market at 7:00 is not a gathering.

The per-frame crowd rule runs on the analysis node, which knows its zones but not the grids: grids, their
kinds and the site's policies live at the centre. The centre therefore resolves each crowd zone's grid
once, when it hands a camera to the analysis role (router/centre/routing.py), and attaches that grid
kind's windows to the zone (``Zone.crowd_windows``); the node then applies them frame by frame, with count,
density and duration judged together as for the zone's own thresholds. Judging at triage instead would
see only an event's peak count after the zone's own thresholds had already started it, and could neither
lower a threshold nor hold a crowd back for a longer duration.

A zone's grid is the grid under the ground point of its polygon's centre (through the camera's
homography), else the grid of the camera's mount. Pure: no I/O and no clock; the windows carry the site's
time zone and the rule reads each frame's own instant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from models.records import Camera, CrowdWindow, Grid, GridKind, LonLat, Zone, ZoneKind
from router.geo import Homography, OffGroundError
from router.grids import GridIndex, UnknownUnitError

#: Grid kind names → their windows, in the order the site file lists them.
CrowdThresholds = Mapping[str, tuple[CrowdWindow, ...]]


def grid_kind_keys(grid: Grid | None) -> tuple[str, ...]:
    """The names a grid's thresholds may be given under, most specific first."""
    if grid is None:
        return ()
    if grid.kind is GridKind.EXCLUSIVE:
        specific = (grid.exclusive_type,) if grid.exclusive_type else ()
        return (*specific, GridKind.EXCLUSIVE.value)
    return (GridKind.BASIC.value,)


def windows_for(grid: Grid | None, thresholds: CrowdThresholds) -> tuple[CrowdWindow, ...]:
    for key in grid_kind_keys(grid):
        if key in thresholds:
            return thresholds[key]
    return ()


def unknown_kinds(thresholds: CrowdThresholds, grids: GridIndex) -> list[str]:
    """Names in the thresholds that no loaded grid answers to: a misspelt exclusive_type applies nowhere."""
    known = {key for grid in grids.grids() for key in grid_kind_keys(grid)}
    return sorted(name for name in thresholds if name not in known)


def zone_point(camera: Camera, homography: Homography | None, zone: Zone) -> LonLat:
    """Where the zone lies on the ground: its polygon's centre through the homography, else the mount."""
    if homography is not None and zone.polygon_px:
        xs, ys = zip(*zone.polygon_px, strict=True)
        try:
            return homography.to_ground((sum(xs) / len(xs), sum(ys) / len(ys)))
        except OffGroundError:
            pass
    return camera.mount.lonlat


def with_crowd_windows(
    camera: Camera,
    homography: Homography | None,
    grids: GridIndex,
    thresholds: CrowdThresholds,
    *,
    timezone: str,
    snap_m: float = 50.0,
) -> Camera:
    """The camera with each crowd zone carrying its grid kind's windows, in the site's ``timezone``."""
    if not thresholds or not any(z.kind is ZoneKind.CROWD for z in camera.zones):
        return camera
    zones = []
    for zone in camera.zones:
        if zone.kind is ZoneKind.CROWD:
            try:
                code = grids.locate(zone_point(camera, homography, zone), snap_m).grid_code
            except UnknownUnitError:  # no grids loaded yet: the zone's own thresholds
                code = None
            grid = grids.get(code) if code is not None else None
            windows = tuple(replace(w, timezone=timezone) for w in windows_for(grid, thresholds))
            zone = replace(zone, crowd_windows=windows)
        zones.append(zone)
    return replace(camera, zones=tuple(zones))
