"""``cameras[].zones``: the image areas and lines each rule watches, one model per zone kind."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from models.config.base import ConfigModel
from models.records import LineDirection, StaticMassSettings, Zone, ZoneKind
from models.shapes import validate_segment

#: Zones are drawn by hand on a picture; more vertices than this is a mistake or an attack on the rules.
MAX_ZONE_VERTICES = 64
PolygonPx = Annotated[
    list[tuple[float, float]],
    Field(
        min_length=3,
        max_length=MAX_ZONE_VERTICES,
        title="Polygon",
        description="Image polygon [[x, y], ...] in pixels, at least 3 vertices, inside the frame.",
    ),
]
_MIN_SECONDS = "Minimum seconds"
_MIN_SECONDS_WHY = "How long the condition must hold before an event starts."
Cooldown = Field(
    default=10.0,
    gt=0,
    title="Cooldown seconds",
    description="How long the condition must be absent before the event ends.",
)
ZoneName = Field(
    min_length=1, title="Zone name", description="Unique within the camera; appears in incidents."
)


class CrowdZone(ConfigModel):
    kind: Literal["crowd"] = Field(title="Kind", description="crowd: too many people in the zone.")
    name: str = ZoneName
    polygon_px: PolygonPx
    min_persons: int = Field(
        default=5, gt=0, title="Minimum persons", description="People that make a crowd."
    )
    min_seconds: float = Field(default=5.0, gt=0, title=_MIN_SECONDS, description=_MIN_SECONDS_WHY)
    cooldown_seconds: float = Cooldown
    min_density_per_m2: float | None = Field(
        default=None,
        gt=0,
        le=10,
        title="Minimum density",
        description="Persons per m² of ground also needed (the zone's area from the camera's calibration; "
        "a camera without one falls back to the count). A street is dense from about 1, a packed crowd 3-4.",
    )


_HOURS = r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$"


class StaticMassConfig(ConfigModel):
    """``zones[].static_mass`` of an occupation zone: occupation by anything, not only detector classes."""

    enabled: bool = Field(
        default=True,
        title="Enabled",
        description="Also raise occupation for any new object that stays put (goods, carts, debris), "
        "not only for the vehicles and stalls the detector names.",
    )
    reference_image: str | None = Field(
        default=None,
        title="Empty-scene picture",
        description="A picture of the zone empty, taken at calibration (same camera and size); "
        "without it the empty scene is learned from the first frames, where people are left out.",
    )
    min_area_fraction: float = Field(
        default=0.02, gt=0, le=1, title="Smallest mass", description="As a fraction of the zone's area."
    )
    prohibited_hours: list[Annotated[str, Field(pattern=_HOURS)]] = Field(
        default=[],
        title="Prohibited hours",
        description='Local "HH:MM-HH:MM" spans (may wrap past midnight) when occupying is prohibited; '
        "empty: at all hours.",
    )
    timezone: str = Field(
        default="Asia/Shanghai", title="Time zone", description="For prohibited_hours (IANA name)."
    )
    absorb_hours: float = Field(
        default=4.0,
        gt=0,
        title="Absorb after hours",
        description="An object that never moves for this long becomes part of the empty scene.",
    )
    occupant: Literal["debris", "goods"] = Field(
        default="debris",
        title="What a mass here is",
        description="debris (街面秩序/乱堆物堆料) or goods (街面秩序/店外经营, a shopfront's pavement): "
        "the class an incident of a mass the detector cannot name is filed under.",
    )

    def settings(self) -> StaticMassSettings | None:
        if not self.enabled:
            return None
        return StaticMassSettings(
            reference_image=self.reference_image,
            min_area_fraction=self.min_area_fraction,
            prohibited_hours=tuple(self.prohibited_hours),
            timezone=self.timezone,
            absorb_seconds=self.absorb_hours * 3600.0,
            occupant=self.occupant,
        )


class OccupationZone(ConfigModel):
    kind: Literal["occupation"] = Field(
        title="Kind", description="occupation: a vehicle or object stays in a lane that must be kept clear."
    )
    name: str = ZoneName
    polygon_px: PolygonPx
    # A car stopping for a few seconds is traffic, not occupation.
    min_seconds: float = Field(default=60.0, gt=0, title=_MIN_SECONDS, description=_MIN_SECONDS_WHY)
    cooldown_seconds: float = Cooldown
    static_mass: StaticMassConfig = Field(
        default_factory=StaticMassConfig,
        title="Occupation by anything",
        description="The class-agnostic watch for new static objects (on unless enabled: false).",
    )


class FireZone(ConfigModel):
    kind: Literal["fire"] = Field(title="Kind", description="fire: flame or smoke seen in the zone.")
    name: str = ZoneName
    polygon_px: PolygonPx
    min_seconds: float = Field(default=5.0, gt=0, title=_MIN_SECONDS, description=_MIN_SECONDS_WHY)
    cooldown_seconds: float = Cooldown


class LineZone(ConfigModel):
    kind: Literal["line"] = Field(
        title="Kind",
        description="line: a tracked vehicle (or person) crosses a segment in a forbidden direction, "
        "e.g. driving into a fire lane.",
    )
    name: str = ZoneName
    # Not PolygonPx: a length constraint there would report "at most 2 items", which hides that a line
    # zone is a segment; _segment says so.
    polygon_px: list[tuple[float, float]] = Field(
        title="Line",
        description="The segment [[x, y], [x, y]] in pixels, from point A to point B, inside the frame.",
    )
    direction: Literal["left_to_right", "right_to_left", "both"] = Field(
        default="both",
        title="Direction",
        description="Which crossings raise an event. Sides are as seen on the picture standing on A and "
        "facing B: for a line drawn left to right across the image, right is below it and left above it.",
    )
    labels: list[Literal["vehicle", "person"]] = Field(
        default=["vehicle"],
        min_length=1,
        title="Labels",
        description="What counts when it crosses: vehicle, person, or both.",
    )
    cooldown_seconds: float = Field(
        default=10.0,
        gt=0,
        title="Cooldown seconds",
        description="After a crossing, how long the same tracked object cannot raise another one.",
    )

    @field_validator("polygon_px")
    @classmethod
    def _segment(cls, value: list[tuple[float, float]]) -> list[tuple[float, float]]:
        # The line rule refuses the same segments with the same words (models.shapes).
        validate_segment(value)
        return value

    @field_validator("labels")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


ZoneConfig = Annotated[CrowdZone | OccupationZone | FireZone | LineZone, Field(discriminator="kind")]


def to_zone(zone: ZoneConfig) -> Zone:
    """The record the rules speak, from one validated zone of a camera."""
    polygon = tuple(zone.polygon_px)
    kind = ZoneKind(zone.kind)
    if isinstance(zone, CrowdZone):
        return Zone(
            zone.name,
            kind,
            polygon,
            zone.min_persons,
            zone.min_seconds,
            zone.cooldown_seconds,
            min_density_per_m2=zone.min_density_per_m2,
        )
    if isinstance(zone, LineZone):
        return Zone(
            zone.name,
            kind,
            polygon,
            cooldown_seconds=zone.cooldown_seconds,
            direction=LineDirection(zone.direction),
            labels=tuple(zone.labels),
        )
    if isinstance(zone, OccupationZone):
        return Zone(
            zone.name,
            kind,
            polygon,
            min_seconds=zone.min_seconds,
            cooldown_seconds=zone.cooldown_seconds,
            static_mass=zone.static_mass.settings(),
        )
    return Zone(
        zone.name, kind, polygon, min_seconds=zone.min_seconds, cooldown_seconds=zone.cooldown_seconds
    )
