"""Dedup keys: events with the same key belong to the same open incident.

The key names *what* and *where* (unit, kind, a ~cell_m square of ground) and deliberately not *when*.
The time window is the life of the open incident: the store keeps a partial unique index on
dedup_key over open incidents and inserts with ON CONFLICT, so a crowd that lingers for three hours
folds into one incident however long it lasts, and the same crowd after the incident was resolved
opens a new one. A time bucket in the key would do both wrong: an event that straddles a bucket
boundary would open a second incident while the first is still being handled, and two crowds a
minute apart in different buckets would never merge. The database constraint also makes the rule
hold across concurrent router workers, which no in-process window could.

Known limit: two events a few metres apart on either side of a cell edge get different keys; the
cells are large enough against detection jitter that this is rare, and it errs on the side of an
extra incident rather than a missed one.
"""

from __future__ import annotations

import math

from models.records import EventKind, LonLat

# Metres per degree of latitude (mean meridional) and per degree of longitude on the equator (WGS84).
# Fixed constants, not a local frame, so a key computed today matches one computed next year anywhere.
_METRES_PER_DEGREE_LAT = 111_132.954
_METRES_PER_DEGREE_LON_EQUATOR = 111_319.491


def ground_cell(lonlat: LonLat, cell_m: float) -> str:
    """A stable id of the roughly cell_m × cell_m square of ground containing lonlat.

    Rows are bands of cell_m metres of latitude; each row is cut into columns of cell_m metres at the
    row's central latitude, so a cell is square to within a fraction of a percent at any latitude.
    """
    if not cell_m > 0:
        raise ValueError(f"cell size must be positive, got {cell_m}")
    lon, lat = lonlat
    row = math.floor(lat * _METRES_PER_DEGREE_LAT / cell_m)
    row_centre_lat = (row + 0.5) * cell_m / _METRES_PER_DEGREE_LAT
    column_width_deg = cell_m / (_METRES_PER_DEGREE_LON_EQUATOR * math.cos(math.radians(row_centre_lat)))
    column = math.floor(lon / column_width_deg)
    return f"{cell_m:g}m:{row}:{column}"


def dedup_key(unit_code: str, kind: EventKind, lonlat: LonLat, cell_m: float = 100.0) -> str:
    return f"{unit_code}|{kind.value}|{ground_cell(lonlat, cell_m)}"
