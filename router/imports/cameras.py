"""Camera list import (the JSON of demo/cameras.json), and the geometric checks the site config shares.

The schema is the site config's CameraConfig, so a camera means the same thing in both files; what a
schema cannot say (zone polygons that cross themselves, calibrations no homography fits) is checked here.
"""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import shapely
from pydantic import ValidationError
from shapely.geometry import Polygon

from models.config import CameraConfig, SiteConfig, describe_errors, dotted
from models.records import Camera, ZoneKind
from router.geo import CalibrationError, fit_homography
from router.imports.problems import ImportRejected, Problem

DEFAULT_TIMEZONE = "Asia/Shanghai"
# Hand-clicked points on a county road map are good to a metre or two; beyond this RMS the pairs
# disagree with each other (a point clicked on the wrong corner), not with the map.
MAX_REPROJECTION_ERROR_M = 5.0
# `facts` describe what a correct system must conclude from the demo scene; they are for tests only.
_IGNORED_KEYS = frozenset({"facts"})
_TOP_KEYS = frozenset({"timezone", "cameras"})


def parse_cameras(text: str) -> tuple[str, list[Camera]]:
    """(time zone, cameras in file order); raises ImportRejected listing all problems."""
    document = _document(text)
    problems = [Problem(key, "unknown key") for key in document if key not in _TOP_KEYS]
    timezone = document.get("timezone", DEFAULT_TIMEZONE)
    problems += _timezone_problems(timezone)
    entries = document.get("cameras")
    if not isinstance(entries, list):
        raise ImportRejected([*problems, Problem("cameras", "must be a list of camera objects")])
    cameras: list[Camera] = []
    first_index: dict[str, int] = {}
    for index, entry in enumerate(entries):
        where = f"cameras[{index}]"
        camera, found = _camera(entry, where)
        if camera is not None and camera.id in first_index:
            found.append(
                Problem(f"{where}.id", f"{camera.id} is also used by cameras[{first_index[camera.id]}]")
            )
        problems += found
        if camera is not None and not found:
            first_index[camera.id] = index
            cameras.append(camera)
    if problems:
        raise ImportRejected(problems)
    return timezone, cameras


def camera_problems(camera: Camera, where: str) -> list[Problem]:
    """What the schema cannot see: invalid zone polygons and calibrations that fit no homography."""
    problems = []
    for index, zone in enumerate(camera.zones):
        if zone.kind is ZoneKind.LINE:
            continue  # a segment, not a polygon: its two distinct points are checked by the schema
        polygon = Polygon(zone.polygon_px)
        if not polygon.is_valid:
            reason = shapely.is_valid_reason(polygon)
            problems.append(
                Problem(
                    f"{where}.zones[{index}].polygon_px",
                    f"zone {zone.name!r} is not a valid polygon: {reason}",
                )
            )
        elif polygon.area <= 0:
            problems.append(Problem(f"{where}.zones[{index}].polygon_px", f"zone {zone.name!r} has no area"))
    if camera.calibration:
        try:
            homography = fit_homography(camera.calibration)
        except CalibrationError as error:
            problems.append(Problem(f"{where}.calibration", f"camera {camera.id}: {error}"))
        else:
            if homography.reprojection_error_m > MAX_REPROJECTION_ERROR_M:
                problems.append(
                    Problem(
                        f"{where}.calibration",
                        f"camera {camera.id}: the points disagree by {homography.reprojection_error_m:.1f} m "
                        f"RMS (at most {MAX_REPROJECTION_ERROR_M:g} m); is one clicked on the wrong spot?",
                    )
                )
    return problems


def site_camera_problems(config: SiteConfig) -> list[Problem]:
    """camera_problems for every camera of a site config; pass it to config_problems(checks=...)."""
    return [
        problem
        for index, camera in enumerate(config.cameras)
        for problem in camera_problems(camera.to_camera(), f"cameras[{index}]")
    ]


def _document(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise ImportRejected([Problem(where, f"not JSON: {error.msg}")]) from None
    if not isinstance(document, dict):
        raise ImportRejected(
            [Problem("(document)", f"must be an object with cameras, got {type(document).__name__}")]
        )
    return document


def _timezone_problems(timezone: Any) -> list[Problem]:
    if not isinstance(timezone, str):
        return [Problem("timezone", f"must be an IANA time zone name, got {timezone!r}")]
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return [
            Problem("timezone", f"unknown time zone {timezone!r} (use an IANA name such as 'Asia/Shanghai')")
        ]
    return []


def _camera(entry: Any, where: str) -> tuple[Camera | None, list[Problem]]:
    if not isinstance(entry, dict):
        return None, [Problem(where, f"must be a camera object, got {type(entry).__name__}")]
    fields = {key: value for key, value in entry.items() if key not in _IGNORED_KEYS}
    try:
        # The demo's source is a description of where the video comes from, not a URL: keep it as text.
        config = CameraConfig.model_validate(fields, context={"free_text_source": True})
    except ValidationError as error:
        return None, [
            Problem(f"{where}.{dotted(loc)}" if loc else where, message)
            for loc, message in describe_errors(error)
        ]
    camera = config.to_camera()
    return camera, camera_problems(camera, where)
