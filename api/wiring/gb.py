"""GB/T 28181: the platform county devices register with, the link up to the county's, and the play of
channels into frame sources."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from api.wiring.centre import Centre
from detect.analysis.node import AnalysisNode
from models.clock import Clock
from models.config.gb28181 import Gb28181Section
from models.gb28181 import SOURCE_SCHEME
from models.link import EventSink
from models.records import Camera
from models.secrets import expand_secret
from router.centre.gb28181 import GbDesk, GbService, UpperReporter

if TYPE_CHECKING:  # serve and demo never load the NATS client: build_node and build_county_centre import it
    from ingest.gb28181.transport import Peer

logger = logging.getLogger(__name__)


def build_gb28181(
    config: Gb28181Section,
    centre: Centre,
    events: EventSink,
    environ: Mapping[str, str],
    *,
    timezone: str,
    analysis: AnalysisNode | None = None,
) -> GbService:
    """The site's ``gb28181:``; KeyError naming the variable when a password's is not set. With
    ``analysis``, its channels play there: INVITE for real-time play, PS over RTP into a frame source."""
    from ingest.gb28181.cascade import UpperLink, UpperSettings
    from ingest.gb28181.invite import ChannelInviter
    from ingest.gb28181.platform import GbPlatform, PlatformSettings
    from ingest.psrtp import PortRange, PsRtpSource

    password = expand_secret(config.password, environ)
    desk = GbDesk(centre.store, centre.registry, events, centre.clock, config=config)
    settings = PlatformSettings.of(config, timezone)
    platform = GbPlatform(settings, lambda _: password, desk, **settings.endpoint(config, config.port))
    if analysis is not None and config.media.play:
        media = config.media

        def device_of(channel: str) -> tuple[str, Peer] | None:
            listed = (d for d in platform.devices.values() if d.online and channel in d.channels)
            return next(((d.id, d.peer) for d in listed), None)

        inviter = ChannelInviter(platform.endpoint, config.platform_id, config.domain, device_of)
        ports = PortRange(*media.ports, host=config.host)
        media_ip = media.ip or platform.endpoint.advertise

        def play(camera: Camera, clock: Clock) -> PsRtpSource:
            channel = camera.source.rstrip("/").rsplit("/", 1)[-1]
            return PsRtpSource(
                camera.id, channel, clock, inviter, ports, transport=media.transport, media_ip=media_ip
            )

        analysis.source_openers[SOURCE_SCHEME] = play
    if config.upper is None:
        return GbService(platform, desk)
    up = UpperSettings.of(config, config.upper, expand_secret(config.upper.password, environ))
    endpoint = settings.endpoint(config, config.upper.local_port, up.transport)
    upper = UpperLink(up, desk.upper_catalog, **endpoint)
    codes = config.alarm_codes()
    return GbService(platform, desk, upper, UpperReporter(centre.broadcaster, upper, codes, config, timezone))
