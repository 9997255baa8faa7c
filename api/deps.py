"""What routes may depend on, each as an annotated type; the one place that reads ``app.state``.

The wiring module builds an ``AppContext`` and ``create_app`` stores it; routes declare what they need
(``StoreDep``, ``CaseworkDep``, ``AnalysisDep``, ``CurrentPrincipal``…) and tests may swap any of them
through ``app.dependency_overrides``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer

from api.audit_trail import note_caller
from api.auth import ACCESS_COOKIE, AuthConfig, Principal, decode, key_digest, scope_of
from api.webrtc import WebRTCHub
from detect.analysis.node import AnalysisNode
from ingest.camera_urls import IPNetwork
from models.clock import Clock, SystemClock
from models.link_health import LinkHealth
from models.store import Store
from router.centre.casework import Casework
from router.centre.feed import Broadcaster, OutboxRelay
from router.centre.registry import CameraRegistry
from router.centre.retention import Retention
from router.centre.rosters import RosterDesk
from router.centre.routing import Routing


@dataclass(frozen=True)
class AppContext:
    """Everything the HTTP layer talks to, built by the wiring package (api/wiring/)."""

    store: Store
    auth: AuthConfig
    routing: Routing
    casework: Casework
    registry: CameraRegistry
    broadcaster: Broadcaster
    relay: OutboxRelay
    analysis: AnalysisNode
    webrtc: WebRTCHub
    #: Networks cameras may be added from at run time (the registry refuses every other URL).
    camera_subnets: tuple[IPNetwork, ...] = ()
    #: The centre's clock (the KPIs judge open deadlines against it).
    clock: Clock = field(default_factory=SystemClock)
    #: The roster API's use case (None in a context built without one: the roster routes answer 503).
    rosters: RosterDesk | None = None
    #: Evidence retention: held, free space, whether clips are paused (router/centre/retention.py).
    retention: Retention | None = None
    #: The county link's health (api/nats/health.py), or serve's one local township (api/health.py).
    link_health: LinkHealth | None = None


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.context
    return ctx


ContextDep = Annotated[AppContext, Depends(context)]


def _store(ctx: ContextDep) -> Store:
    return ctx.store


def _routing(ctx: ContextDep) -> Routing:
    return ctx.routing


def _casework(ctx: ContextDep) -> Casework:
    return ctx.casework


def _registry(ctx: ContextDep) -> CameraRegistry:
    return ctx.registry


def _analysis(ctx: ContextDep) -> AnalysisNode:
    return ctx.analysis


def _broadcaster(ctx: ContextDep) -> Broadcaster:
    return ctx.broadcaster


def _webrtc(ctx: ContextDep) -> WebRTCHub:
    return ctx.webrtc


def _auth(ctx: ContextDep) -> AuthConfig:
    return ctx.auth


StoreDep = Annotated[Store, Depends(_store)]
RoutingDep = Annotated[Routing, Depends(_routing)]
CaseworkDep = Annotated[Casework, Depends(_casework)]
RegistryDep = Annotated[CameraRegistry, Depends(_registry)]
AnalysisDep = Annotated[AnalysisNode, Depends(_analysis)]
BroadcasterDep = Annotated[Broadcaster, Depends(_broadcaster)]
WebRTCDep = Annotated[WebRTCHub, Depends(_webrtc)]
AuthConfigDep = Annotated[AuthConfig, Depends(_auth)]

_bearer = HTTPBearer(auto_error=False, description="Access token from POST /api/v1/auth/token")
#: The same bearer token, declared as the OAuth2 password flow so that the "Authorize" dialog of /docs
#: signs in with a user name and password (it posts the form to the token URL).
_password_flow = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def current_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    store: StoreDep,
    auth: AuthConfigDep,
    _signed_in_by_form: Annotated[str | None, Depends(_password_flow)] = None,
) -> Principal:
    """The caller, from a bearer token, the page's cookie or an X-API-Key header; 401 otherwise."""
    api_key = request.headers.get("x-api-key")
    if api_key:
        record = await store.users.api_key(key_digest(api_key))
        if record is None:
            raise HTTPException(401, "unknown or revoked API key")
        machine = Principal(
            f"key:{record.name}", record.role, scope_of(record.role, record.unit_code), via="api_key"
        )
        note_caller(request, machine)
        return machine
    token = bearer.credentials if bearer is not None else request.cookies.get(ACCESS_COOKIE)
    if not token:
        raise HTTPException(401, "sign in first", headers={"WWW-Authenticate": "Bearer"})
    claims = decode(auth, token, "access")
    wid = claims.get("wid")
    sid = claims.get("sid")
    # An ended session (signed out, ended from another device, password changed) refuses its access
    # tokens at once rather than when they expire.
    if sid and await store.sign_in.touch(str(sid), datetime.now(UTC)) != claims["sub"]:
        raise HTTPException(401, "session ended: sign in again", headers={"WWW-Authenticate": "Bearer"})
    principal = Principal(
        name=str(claims["sub"]),
        role=str(claims["role"]),
        scope=str(claims["scope"]),
        worker_id=str(wid) if wid else None,
        session_id=str(sid) if sid else None,
    )
    note_caller(request, principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_admin(principal: CurrentPrincipal) -> Principal:
    if not principal.is_admin:
        raise HTTPException(403, "administrators only")
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]


def _rosters(ctx: ContextDep) -> RosterDesk:
    if ctx.rosters is None:
        raise HTTPException(503, "this service was started without the roster desk")
    return ctx.rosters


RosterDeskDep = Annotated[RosterDesk, Depends(_rosters)]
