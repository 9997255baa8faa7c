"""Sign-in, token refresh and sign-out: bearer tokens for clients, an HttpOnly cookie for the pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import (
    ACCESS_COOKIE,
    AuthConfig,
    CurrentPrincipal,
    Principal,
    decode,
    hash_password,
    issue_access,
    issue_refresh,
    scope_of,
    verify_password,
)
from models.auth_store import AuthStore

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _now() -> datetime:
    # Token lifetimes follow the real clock, as the JWT library checks them; the service's injected
    # clock drives the domain (duty, deadlines), which replays may move freely.
    return datetime.now(UTC)


# Verifying against a real hash when the user is unknown keeps both failures equally slow.
_DUMMY_HASH = hash_password("no such user")


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=2048)


def _tokens(request: Request, response: Response, principal: Principal, refresh: str) -> dict[str, Any]:
    config: AuthConfig = request.app.state.auth
    now = _now()
    access = issue_access(config, principal, now)
    response.set_cookie(
        ACCESS_COOKIE,
        access,
        max_age=int(config.access_ttl.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=config.secure_cookie,
    )
    return {
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "bearer",
        "expires_in": int(config.access_ttl.total_seconds()),
        "user": {
            "name": principal.name,
            "role": principal.role,
            "scope": principal.scope,
            "worker_id": principal.worker_id,
        },
    }


async def _principal_of(store: AuthStore, username: str) -> Principal | None:
    user = await store.get_user(username)
    if user is None or user.disabled:
        return None
    return Principal(user.username, user.role, scope_of(user.role, user.unit_code), user.worker_id)


@router.post("/token")
async def token(body: Credentials, request: Request, response: Response) -> dict[str, Any]:
    store: AuthStore = request.app.state.auth_store
    user = await store.get_user(body.username)
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, body.password)
    principal = await _principal_of(store, body.username) if ok else None
    if principal is None:
        raise HTTPException(401, "wrong user name or password")
    config: AuthConfig = request.app.state.auth
    refresh, jti, expires = issue_refresh(config, principal.name, _now())
    await store.save_refresh(jti, principal.name, expires)
    return _tokens(request, response, principal, refresh)


@router.post("/refresh")
async def refresh(body: RefreshIn, request: Request, response: Response) -> dict[str, Any]:
    """Rotate: the old refresh token is spent, a new pair is returned."""
    config: AuthConfig = request.app.state.auth
    store: AuthStore = request.app.state.auth_store
    claims = decode(config, body.refresh_token, "refresh")
    now = _now()
    username = await store.use_refresh(str(claims["jti"]), now)
    principal = await _principal_of(store, username) if username else None
    if principal is None:
        raise HTTPException(401, "refresh token already used, revoked or expired")
    new_refresh, jti, expires = issue_refresh(config, principal.name, now)
    await store.save_refresh(jti, principal.name, expires)
    return _tokens(request, response, principal, new_refresh)


@router.post("/logout")
async def logout(principal: CurrentPrincipal, request: Request, response: Response) -> dict[str, str]:
    store: AuthStore = request.app.state.auth_store
    await store.revoke_refresh_tokens(principal.name, _now())
    response.delete_cookie(ACCESS_COOKIE)
    return {"status": "signed out"}


@router.get("/me")
async def me(principal: CurrentPrincipal) -> dict[str, Any]:
    return {
        "name": principal.name,
        "role": principal.role,
        "scope": principal.scope,
        "worker_id": principal.worker_id,
    }
