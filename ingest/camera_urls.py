"""Admission checks for camera URLs that arrive from outside (the registry API, onboarding input).

A camera URL is untrusted: it makes this server open connections, so a URL that reaches beyond the
site's camera network (the database host, cloud metadata, localhost admin ports) or that names a
local file would turn the camera registry into a request-forgery tool. The rules:

* only the schemes the caller allows (rtsp/rtsps for streams, http/https for ONVIF);
* the host is a DNS name, a canonical dotted-quad IPv4 or a bracketed IPv6 literal. The shorthand
  forms that C resolvers also accept (``127.1``, ``2130706433``, ``0x7f.1``, ``0177.0.0.1``) are
  refused outright: they exist mostly to slip past filters like this one;
* every address the host resolves to lies in one of the site's configured camera subnets;
* no shell metacharacters anywhere; nothing ever goes through a shell, but a URL holding ``$(…)``
  or ``;`` is an attack or a typo, and either way not a camera;
* a password only as a ``${ENV_VAR}`` placeholder, as in the site YAML: secrets live in the
  environment, never in the database or in API payloads.

Every refusal is a ``RefusedUrl`` whose message is safe to return and to log (no credentials).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from ingest.urls import mask_url
from models.secrets import is_placeholder

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

STREAM_SCHEMES = frozenset({"rtsp", "rtsps"})
ONVIF_SCHEMES = frozenset({"http", "https"})

#: Characters a shell or a URL-splicing tool would treat specially; none belongs in a camera URL.
_FORBIDDEN_CHARS = frozenset(";|`<>\"'\\{}$ \t\r\n")
_DNS_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_DOTTED_QUAD = re.compile(r"^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$")


class RefusedUrl(ValueError):
    """A camera URL that must not be used; str() is a reason fit for a 422 body and a log line."""


@dataclass(frozen=True, slots=True)
class CheckedUrl:
    url: str
    scheme: str
    host: str
    port: int | None
    addresses: tuple[IPAddress, ...]


def parse_subnets(subnets: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(s, strict=False) for s in subnets)


def _shape(url: str, schemes: frozenset[str]) -> SplitResult:
    """Syntax checks that need no resolver: scheme, characters, credentials, host form."""
    if not url or url != url.strip():
        raise RefusedUrl("the URL is empty or has leading or trailing spaces")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise RefusedUrl("the URL contains control characters")
    if "://" not in url:
        # A bare path is what local files look like; the API never opens those.
        raise RefusedUrl(
            f"not a URL: local files are not accepted here; expected {' or '.join(sorted(schemes))}://"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedUrl(f"the URL cannot be parsed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        raise RefusedUrl(f"scheme {scheme!r} is not allowed; use {' or '.join(sorted(schemes))}")
    # Placeholders are the only place a '$' may appear; take them out before looking for metacharacters.
    userinfo, at, _ = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    if at and colon and password and not is_placeholder(password):
        raise RefusedUrl(
            "the URL holds an inline password; write user:${CAM_PASSWORD}@host and set CAM_PASSWORD "
            "in the service's environment"
        )
    rest = url.replace(password, "", 1) if password else url
    bad = sorted({c for c in rest if c in _FORBIDDEN_CHARS})
    if bad:
        raise RefusedUrl(f"the URL contains characters no camera URL needs: {' '.join(map(repr, bad))}")
    if "${" in user:
        raise RefusedUrl("a ${VAR} placeholder is only accepted as the password")
    if port is not None and port == 0:
        raise RefusedUrl("port 0 is not a camera port")
    if not parts.hostname:
        raise RefusedUrl("the URL names no host")
    _check_host_form(parts.hostname, bracketed=parts.netloc.rpartition("@")[2].startswith("["))
    return parts


def _check_host_form(host: str, *, bracketed: bool) -> None:
    if bracketed:
        try:
            ipaddress.IPv6Address(host.split("%")[0])
        except ValueError:
            raise RefusedUrl(f"[{host}] is not an IPv6 address") from None
        return
    if _DOTTED_QUAD.fullmatch(host):
        return
    try:
        socket.inet_aton(host)
    except OSError:
        pass
    else:
        # inet_aton accepted it, so a resolver would too, but it is not the canonical a.b.c.d form.
        raise RefusedUrl(
            f"host {host!r} is a shorthand IPv4 form; write the address as four decimal numbers (a.b.c.d)"
        )
    labels = host.rstrip(".").split(".")
    if not all(_DNS_LABEL.fullmatch(label) for label in labels):
        raise RefusedUrl(f"host {host!r} is neither an IP address nor a valid DNS name")
    if labels[-1].isdigit():
        # Numeric top-level labels are never DNS names; resolvers would read such hosts as addresses.
        raise RefusedUrl(f"host {host!r} is neither a dotted-quad IPv4 address nor a DNS name")


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return None


def _in_subnets(address: IPAddress, subnets: Sequence[IPNetwork]) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in subnets)


async def _resolve(host: str, port: int | None) -> tuple[IPAddress, ...]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise RefusedUrl(f"host {host!r} does not resolve: {exc.strerror or exc}") from None
    found: list[IPAddress] = []
    for info in infos:
        address = _literal(str(info[4][0]))
        if address is not None and address not in found:
            found.append(address)
    if not found:
        raise RefusedUrl(f"host {host!r} resolves to no address")
    return tuple(found)


async def check_camera_url(
    url: str, subnets: Sequence[IPNetwork], *, schemes: frozenset[str] = STREAM_SCHEMES
) -> CheckedUrl:
    """Admit url or raise RefusedUrl; resolves DNS names but never connects anywhere."""
    parts = _shape(url, schemes)
    host = parts.hostname or ""
    if not subnets:
        raise RefusedUrl("no camera subnets are configured for this site (site.camera_subnets)")
    literal = _literal(host)
    addresses = (literal,) if literal is not None else await _resolve(host, parts.port)
    outside = [a for a in addresses if not _in_subnets(a, subnets)]
    if outside:
        allowed = ", ".join(str(n) for n in subnets)
        raise RefusedUrl(
            f"host {host!r} resolves to {', '.join(map(str, outside))}, outside the site's camera "
            f"subnets ({allowed})"
        )
    return CheckedUrl(mask_url(url), parts.scheme.lower(), host, parts.port, addresses)


def address_allowed(address: str, subnets: Sequence[IPNetwork]) -> bool:
    """Whether a literal IP address lies in the camera subnets (for onboarding targets)."""
    literal = _literal(address)
    return literal is not None and _in_subnets(literal, subnets)
