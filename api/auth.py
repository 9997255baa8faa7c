"""Who is asking, and which part of the county they may see.

Every user holds a post in the hierarchy: the unit code of that post is the prefix of every object
they may see (a township's code is the prefix of its communities' and grids' codes). Admins have the
empty prefix. Scoping is enforced by the routes, server-side, on every lookup; api/deps.py turns a
request into its Principal.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from models.config.sign_in import SignInSection
from models.records import POST_LEVEL, Post

ACCESS_COOKIE = "gw_access"
ALGORITHM = "HS256"
#: Secrets that must never sign tokens outside the demo (copied from docs and examples).
KNOWN_DEFAULT_SECRETS = frozenset({"", "secret", "changeme", "change-me", "gridwatch", "demo"})
_hasher = PasswordHasher()


class WeakSecret(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class AuthConfig:
    secret: str
    access_ttl: timedelta = timedelta(minutes=15)
    refresh_ttl: timedelta = timedelta(hours=12)
    #: Sent with the cookie so that it only travels over HTTPS; off on loopback demos.
    secure_cookie: bool = False
    #: Failed sign-ins that lock an account or an address (the site file's sign_in: section).
    sign_in: SignInSection = field(default_factory=SignInSection)
    #: sha256 of the key Prometheus scrapes /metrics with (site file: metrics:); None: admins only.
    metrics_key_sha256: str | None = None

    @classmethod
    def checked(cls, secret: str | None, **kwargs: object) -> AuthConfig:
        if secret is None or secret.strip().lower() in KNOWN_DEFAULT_SECRETS:
            raise WeakSecret("GRIDWATCH_SECRET_KEY is not set or is a known default: set a random value")
        if len(secret) < 32:
            raise WeakSecret("GRIDWATCH_SECRET_KEY is too short: use at least 32 random characters")
        return cls(secret, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def for_demo(cls) -> AuthConfig:
        return cls(secrets.token_urlsafe(48))


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: str
    #: Unit-code prefix of everything this principal may see; "" sees the whole installation.
    scope: str
    worker_id: str | None = None
    via: str = "token"
    #: The sign-in session the access token belongs to (None for API keys and older tokens).
    session_id: str | None = None

    def sees(self, unit_code: str | None) -> bool:
        return unit_code is not None and unit_code.startswith(self.scope)

    def sees_any(self, unit_codes: set[str] | frozenset[str]) -> bool:
        return any(self.sees(code) for code in unit_codes)

    def narrow(self, unit: str | None) -> str | None:
        """The subtree to list for a requested ``unit``: within scope, or None when disjoint."""
        if unit is None or self.scope.startswith(unit):
            return self.scope
        if unit.startswith(self.scope):
            return unit
        return None

    @property
    def is_admin(self) -> bool:
        return self.role == Post.ADMIN


def scope_of(role: str, unit_code: str) -> str:
    try:
        level = POST_LEVEL[Post(role)]
    except ValueError:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(Post)}") from None
    if role == Post.ADMIN:
        return ""
    if len(unit_code) != level or not unit_code.isdigit():
        raise ValueError(f"a {role} needs a {level}-digit unit code, got {unit_code!r}")
    return unit_code


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def key_digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_api_key() -> tuple[str, str]:
    """(key id, key); the key is shown once, only its sha256 is stored."""
    return uuid.uuid4().hex[:12], "gwk_" + secrets.token_urlsafe(32)


def issue_access(config: AuthConfig, principal: Principal, now: datetime) -> str:
    claims = {
        "sub": principal.name,
        "role": principal.role,
        "scope": principal.scope,
        "wid": principal.worker_id,
        "typ": "access",
        "sid": principal.session_id,
        "iat": int(now.timestamp()),
        "exp": int((now + config.access_ttl).timestamp()),
    }
    return jwt.encode(claims, config.secret, algorithm=ALGORITHM)


def issue_refresh(config: AuthConfig, username: str, now: datetime) -> tuple[str, str, datetime]:
    jti = uuid.uuid4().hex
    expires = now + config.refresh_ttl
    claims = {
        "sub": username,
        "typ": "refresh",
        "jti": jti,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
    }
    return jwt.encode(claims, config.secret, algorithm=ALGORITHM), jti, expires


class InvalidToken(ValueError):
    """A token that proves nothing: expired, forged, malformed or of the wrong kind (the API answers 401)."""


def decode(config: AuthConfig, token: str, kind: str) -> dict[str, object]:
    try:
        claims: dict[str, object] = jwt.decode(token, config.secret, algorithms=[ALGORITHM])
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token expired") from None
    except jwt.PyJWTError:
        raise InvalidToken("invalid token") from None
    if claims.get("typ") != kind:
        raise InvalidToken(f"not an {kind} token")
    return claims
