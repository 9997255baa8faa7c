"""The site YAML: one county's cameras, detectors, notification targets and import files.

One module per section of the file (site, cameras, zones, detectors, clips, notifications), the whole
document in document.py, and reading and reporting in loader.py. Every model forbids unknown keys so a typo
fails at load instead of silently falling back to a default, and every user-facing key carries a title and
description that double as its documentation. Secrets never appear here: a key holding one names an
environment variable instead (``secret_env``).
"""

from models.config.base import ConfigModel, EnvName, Latitude, Longitude
from models.config.camera_events import CameraEventRuleConfig, OnvifConfig
from models.config.cameras import CalibrationPointConfig, CameraConfig, MountConfig
from models.config.clips import ClipsSection
from models.config.detectors import DetectorsSection, FireDetectorConfig, PersonDetectorConfig
from models.config.document import SiteConfig
from models.config.link import LinkSection
from models.config.loader import (
    ConfigCheck,
    ConfigError,
    LocatedProblem,
    PoliciesFile,
    config_problems,
    describe_errors,
    dotted,
    load_policies_file,
    load_site_config,
)
from models.config.metrics import MetricsSection
from models.config.mqtt import MqttSection
from models.config.notifications import DingTalkTarget, NotificationTarget, WebhookTarget, WeComTarget
from models.config.policies import PoliciesSection
from models.config.sign_in import SignInSection
from models.config.site import SiteSection
from models.config.townships import TownshipConfig, TownshipNodeConfig, camera_pins, camera_townships
from models.config.zones import (
    MAX_ZONE_VERTICES,
    CrowdZone,
    FireZone,
    LineZone,
    OccupationZone,
    ZoneConfig,
    to_zone,
)

__all__ = [
    "MAX_ZONE_VERTICES",
    "CalibrationPointConfig",
    "CameraConfig",
    "CameraEventRuleConfig",
    "ClipsSection",
    "ConfigCheck",
    "ConfigError",
    "ConfigModel",
    "CrowdZone",
    "DetectorsSection",
    "DingTalkTarget",
    "EnvName",
    "FireDetectorConfig",
    "FireZone",
    "Latitude",
    "LineZone",
    "LinkSection",
    "LocatedProblem",
    "Longitude",
    "MetricsSection",
    "MountConfig",
    "MqttSection",
    "NotificationTarget",
    "OccupationZone",
    "OnvifConfig",
    "PersonDetectorConfig",
    "PoliciesFile",
    "PoliciesSection",
    "SignInSection",
    "SiteConfig",
    "SiteSection",
    "TownshipConfig",
    "TownshipNodeConfig",
    "WeComTarget",
    "WebhookTarget",
    "ZoneConfig",
    "camera_pins",
    "camera_townships",
    "config_problems",
    "describe_errors",
    "dotted",
    "load_policies_file",
    "load_site_config",
    "to_zone",
]
