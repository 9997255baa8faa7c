"""HTTP digest authentication as SIP REGISTER uses it (RFC 2617, MD5; GB/T 28181 §9.1.2.1).

The registrar's nonces carry their own issue time and an HMAC over it, so any process holding the key can
check one without remembering it; a nonce older than ``NONCE_TTL_S`` is stale and challenged again.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

NONCE_TTL_S = 300.0
_PAIR = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def parse_params(value: str) -> dict[str, str]:
    """``Digest username="…", realm="…", …`` → its parameters (names lower-cased, quotes removed)."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return {}
    found: dict[str, str] = {}
    for match in _PAIR.finditer(rest):
        raw = match.group(2)
        found[match.group(1).lower()] = raw[1:-1] if raw.startswith('"') else raw
    return found


def answer(
    user: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    *,
    qop: str | None = None,
    nc: str = "00000001",
    cnonce: str = "",
) -> str:
    """The ``response`` value (RFC 2617 §3.2.2.1): with qop=auth over nc and cnonce, else as RFC 2069."""
    ha1 = md5(f"{user}:{realm}:{password}")
    ha2 = md5(f"{method}:{uri}")
    if qop:
        return md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return md5(f"{ha1}:{nonce}:{ha2}")


def authorization(
    challenge: dict[str, str], user: str, password: str, method: str, uri: str, nc: int = 1
) -> str:
    """The Authorization header answering a WWW-Authenticate challenge."""
    realm, nonce = challenge.get("realm", ""), challenge.get("nonce", "")
    qop = "auth" if "auth" in challenge.get("qop", "").split(",") else None
    cnonce = secrets.token_hex(8)
    count = f"{nc:08x}"
    response = answer(user, realm, password, method, uri, nonce, qop=qop, nc=count, cnonce=cnonce)
    parts = [
        f'username="{user}"',
        f'realm="{realm}"',
        f'nonce="{nonce}"',
        f'uri="{uri}"',
        f'response="{response}"',
        "algorithm=MD5",
    ]
    if qop:
        parts += [f"qop={qop}", f"nc={count}", f'cnonce="{cnonce}"']
    if "opaque" in challenge:
        parts.append(f'opaque="{challenge["opaque"]}"')
    return "Digest " + ", ".join(parts)


class Nonces:
    """Issues and checks the registrar's nonces."""

    def __init__(self, key: bytes | None = None, ttl_s: float = NONCE_TTL_S) -> None:
        self._key = key or secrets.token_bytes(32)
        self._ttl_s = ttl_s

    def issue(self, now: float | None = None) -> str:
        stamp = f"{int(now if now is not None else time.time()):x}"
        return stamp + hmac.new(self._key, stamp.encode(), hashlib.sha256).hexdigest()[:24]

    def fresh(self, nonce: str, now: float | None = None) -> bool:
        stamp, mac = nonce[:-24], nonce[-24:]
        expected = hmac.new(self._key, stamp.encode(), hashlib.sha256).hexdigest()[:24]
        if not stamp or not hmac.compare_digest(mac, expected):
            return False
        try:
            issued = int(stamp, 16)
        except ValueError:
            return False
        return (now if now is not None else time.time()) - issued <= self._ttl_s

    def challenge(self, realm: str) -> str:
        return f'Digest realm="{realm}", nonce="{self.issue()}", algorithm=MD5'


def verify(params: dict[str, str], password: str, method: str) -> bool:
    """Whether an Authorization's response is the one ``password`` gives."""
    needed = ("username", "realm", "nonce", "uri", "response")
    if any(k not in params for k in needed):
        return False
    expected = answer(
        params["username"],
        params["realm"],
        password,
        method,
        params["uri"],
        params["nonce"],
        qop=params.get("qop") or None,
        nc=params.get("nc", ""),
        cnonce=params.get("cnonce", ""),
    )
    return hmac.compare_digest(expected, params["response"].lower())
