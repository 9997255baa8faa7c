"""From a list of addresses to camera records: parse targets, probe them, turn reports into cameras.

Onboarding is idempotent: a camera already in the registry keeps what people gave it (name, mount,
calibration, zones, enabled) and only gets its stream and picture size refreshed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from urllib.parse import quote, urlsplit, urlunsplit

from ingest.camera_urls import IPNetwork, address_allowed
from ingest.onvif.device import probe_device
from ingest.onvif.models import (
    Credentials,
    DeviceReport,
    DeviceTarget,
    Failure,
    FailureKind,
)
from models.clock import Clock
from models.records import Camera, Mount, OnvifEndpoint
from models.secrets import placeholder

#: A /16 has 65 534 hosts; probing that many is a scan, not an onboarding. Townships use a /24 or two.
MAX_SUBNET_HOSTS = 1024
_ID_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")


class TargetError(ValueError):
    """A problem with the hosts file or the subnet; str() names the line."""


def subnet_targets(cidr: str, *, port: int = 80, limit: int = MAX_SUBNET_HOSTS) -> list[DeviceTarget]:
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError as exc:
        raise TargetError(f"--subnet {cidr!r}: {exc}") from None
    if network.num_addresses > limit + 2:
        raise TargetError(f"--subnet {cidr}: {network.num_addresses} addresses, more than {limit}; split it")
    return [DeviceTarget(str(host), port) for host in network.hosts()] or [
        DeviceTarget(str(network.network_address), port)
    ]


def parse_hosts(text: str, *, default_port: int = 80) -> list[DeviceTarget]:
    """One device per line: ``HOST[:PORT] [id=…] [name=…] [lonlat=LON,LAT] [user=…] [password_env=…]``.

    ``#`` starts a comment. Credentials named per line are resolved later from the environment.
    """
    targets: list[DeviceTarget] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        address, *options = line.split()
        try:
            targets.append(_target(address, options, default_port))
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
    if problems:
        raise TargetError("\n".join(problems))
    return targets


def _target(address: str, options: list[str], default_port: int) -> DeviceTarget:
    parts = urlsplit(f"//{address}")
    host, port = parts.hostname, parts.port or default_port
    if not host:
        raise ValueError(f"{address!r} is not HOST or HOST:PORT")
    fields: dict[str, str] = {}
    for option in options:
        key, eq, value = option.partition("=")
        if not eq or key not in {"id", "name", "lonlat", "user", "password_env"}:
            raise ValueError(f"unknown option {option!r}; use id=, name=, lonlat=, user=, password_env=")
        fields[key] = value
    lonlat = None
    if "lonlat" in fields:
        lon, _, lat = fields["lonlat"].partition(",")
        lonlat = (float(lon), float(lat))
        if not (-180 <= lonlat[0] <= 180 and -90 <= lonlat[1] <= 90):
            raise ValueError(f"lonlat {fields['lonlat']} is not a WGS84 lon,lat")
    credentials = None
    if "user" in fields:
        credentials = Credentials(fields["user"], "", fields.get("password_env"))
    return DeviceTarget(host, port, fields.get("id"), fields.get("name", "").replace("_", " ") or None,
                        lonlat, credentials)  # fmt: skip


def resolve_credentials(
    target: DeviceTarget, default: Credentials | None, environ: Mapping[str, str]
) -> Credentials | None:
    """The target's own credentials with its password read from the environment, else the default."""
    own = target.credentials
    if own is None:
        return default
    if own.password_env is None:
        return Credentials(
            own.user, default.password if default else "", default.password_env if default else None
        )
    if own.password_env not in environ:
        raise TargetError(f"{target.address}: environment variable {own.password_env} is not set")
    return Credentials(own.user, environ[own.password_env], own.password_env)


def refused(target: DeviceTarget, report_time: Clock) -> DeviceReport:
    return DeviceReport(
        target,
        report_time.now(),
        failure=Failure(FailureKind.REFUSED, "admission", "outside the site's camera subnets; not contacted"),
    )


async def onboard(
    targets: Sequence[DeviceTarget],
    subnets: Sequence[IPNetwork],
    default_credentials: Credentials | None,
    clock: Clock,
    *,
    environ: Mapping[str, str],
    concurrency: int = 16,
    progress: Callable[[DeviceReport], None] | None = None,
    probe: Callable[[DeviceTarget, Credentials | None], Awaitable[DeviceReport]] | None = None,
) -> list[DeviceReport]:
    """Probe every target (at most ``concurrency`` at once); targets outside subnets are never contacted."""
    gate = asyncio.Semaphore(concurrency)

    async def default_probe(target: DeviceTarget, credentials: Credentials | None) -> DeviceReport:
        return await probe_device(target, credentials, clock=clock)

    run = probe or default_probe

    async def one(target: DeviceTarget) -> DeviceReport:
        if not address_allowed(target.host, subnets):
            report = refused(target, clock)
        else:
            credentials = resolve_credentials(target, default_credentials, environ)
            async with gate:
                report = await run(target, credentials)
        if progress is not None:
            progress(report)
        return report

    return list(await asyncio.gather(*(one(t) for t in targets)))


def camera_id_for(report: DeviceReport) -> str:
    if report.target.camera_id:
        return report.target.camera_id
    return _ID_CHARS.sub("-", f"onvif-{report.target.host}-{report.target.port}").strip("-")[:64]


def stream_source(uri: str, credentials: Credentials | None) -> str:
    """The stream URI with the user and a ${ENV} placeholder for the password: never the secret itself."""
    parts = urlsplit(uri)
    host = parts.netloc.rpartition("@")[2]
    if credentials is None:
        return urlunsplit(parts._replace(netloc=host))
    userinfo = quote(credentials.user, safe="")
    if credentials.password_env:
        userinfo += ":" + placeholder(credentials.password_env)
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


def to_camera(
    report: DeviceReport, existing: Camera | None, credentials: Credentials | None
) -> Camera | None:
    """The camera record for a successful report (the sub-stream feeds detection), else None."""
    sub = report.sub
    if not report.ok or sub is None or sub.stream_uri is None:
        return None
    source = stream_source(sub.stream_uri, credentials)
    size = (sub.width or 0, sub.height or 0)
    onvif = onvif_endpoint(report, credentials)
    if existing is not None:
        frame_size = size if all(size) else existing.frame_size
        return replace(existing, source=source, frame_size=frame_size, onvif=onvif)
    info = report.info
    name = report.target.name or (
        f"{info.manufacturer} {info.model} {report.target.host}" if info else report.target.host
    )
    lonlat = report.target.lonlat
    return Camera(
        id=camera_id_for(report),
        name=name,
        source=source,
        frame_size=size if all(size) else (640, 480),
        mount=Mount(lonlat or (0.0, 0.0)),
        # Without a position its incidents could not be routed to a grid; someone sets it, then enables it.
        enabled=lonlat is not None,
        onvif=onvif,
    )


def onvif_endpoint(report: DeviceReport, credentials: Credentials | None) -> OnvifEndpoint:
    """Where the device service answered, with the same login as the stream; events only if it has them."""
    password = placeholder(credentials.password_env) if credentials and credentials.password_env else None
    return OnvifEndpoint(
        report.target.host,
        report.target.port,
        credentials.user if credentials else None,
        password,
        events=report.has_events,
    )


def merge_cameras(
    reports: Iterable[tuple[DeviceReport, Credentials | None]], existing: Mapping[str, Camera]
) -> list[Camera]:
    cameras: list[Camera] = []
    for report, credentials in reports:
        camera = to_camera(report, existing.get(camera_id_for(report)), credentials)
        if camera is not None:
            cameras.append(camera)
    return cameras
