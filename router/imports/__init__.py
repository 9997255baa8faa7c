"""Importers for the files command centres hand us: grid layers, duty rosters and camera lists.

Each is pure (file text in, records out) and refuses a file as a whole, listing every problem at once,
so an operator fixes the file in one pass and nothing is ever half-imported.
"""

from router.imports.cameras import camera_problems, parse_cameras, site_camera_problems
from router.imports.grids import parse_grids
from router.imports.problems import ImportRejected, Problem
from router.imports.roster import parse_roster, unit_codes

__all__ = [
    "ImportRejected",
    "Problem",
    "camera_problems",
    "parse_cameras",
    "parse_grids",
    "parse_roster",
    "site_camera_problems",
    "unit_codes",
]
