"""Sign-in, token refresh and sign-out: bearer tokens for clients, an HttpOnly cookie for the pages."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.audit_trail import mark_audited
from api.auth import (
    ACCESS_COOKIE,
    AuthConfig,
    Principal,
    decode,
    hash_password,
    issue_access,
    issue_refresh,
    scope_of,
    verify_password,
)
from api.deps import AuthConfigDep, CurrentPrincipal, StoreDep
from api.responses import StatusOut, TokenOut, UserOut
from api.sign_in import LOCK_RESPONSES, count_failure, name_key, open_session, refuse_if_locked
from api.token_request import credentials_of, token_body
from models.store import Store
from models.store.users import UserRepository

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _now() -> datetime:
    # Token lifetimes follow the real clock, as the JWT library checks them; the service's injected
    # clock drives the domain (duty, deadlines), which replays may move freely.
    return datetime.now(UTC)


@cache
def _dummy_hash() -> str:
    """Verifying against a real hash when the user is unknown keeps both failures equally slow."""
    return hash_password("no such user")


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=2048)


def _tokens(config: AuthConfig, response: Response, principal: Principal, refresh: str) -> dict[str, Any]:
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


async def _principal_of(users: UserRepository, username: str) -> Principal | None:
    user = await users.get(username)
    if user is None or user.disabled:
        return None
    return Principal(user.username, user.role, scope_of(user.role, user.unit_code), user.worker_id)


async def _audit(
    store: Store, request: Request, actor: str, action: str, reason: str = "", *, object_id: str | None = None
) -> None:
    # Sign-ins, failed ones included, are part of the audit trail (issue 12): who, from where, when.
    mark_audited(request)
    client = request.client.host if request.client else ""
    await store.audit.record(
        actor=actor,
        action=action,
        object_type="user",
        object_id=actor if object_id is None else object_id,
        reason=reason,
        client=client,
    )


#: JSON or the OAuth2 password form (what the "Authorize" dialog of /docs sends).
CredentialsBody = Annotated[Credentials, Depends(credentials_of(Credentials))]


@router.post(
    "/token", response_model=TokenOut, openapi_extra=token_body(Credentials), responses=LOCK_RESPONSES
)
async def token(
    body: CredentialsBody, request: Request, response: Response, store: StoreDep, config: AuthConfigDep
) -> dict[str, Any]:
    user = await store.users.get(body.username)
    # A locked account or address is refused before the password is looked at: the right one included.
    key = name_key(body.username, known=user is not None)
    await refuse_if_locked(store, request, key, _now(), config.sign_in)
    ok = verify_password(user.password_hash if user else _dummy_hash(), body.password)
    principal = await _principal_of(store.users, body.username) if ok else None
    if principal is None:
        # The reason says which check failed for the auditor; the caller learns no more than before. An
        # unknown name is kept as a digest only: people type their password into the name field.
        if user is None:
            typed = "sha256:" + hashlib.sha256(body.username.encode()).hexdigest()[:16]
            await _audit(store, request, "(unknown)", "sign_in_failed", "unknown user name", object_id=typed)
        else:
            why = "disabled" if user.disabled else "wrong password"
            await _audit(store, request, user.username, "sign_in_failed", why)
        await count_failure(store, request, key, _now(), config.sign_in)
        raise HTTPException(401, "wrong user name or password")
    await _audit(store, request, principal.name, "sign_in")
    await store.sign_in.forget_failures("user", principal.name)
    now = _now()
    refresh, jti, expires = issue_refresh(config, principal.name, now)
    session_id = await open_session(store, request, principal.name, now, expires)
    await store.sign_in.save_refresh(jti, session_id, principal.name, expires)
    return _tokens(config, response, replace(principal, session_id=session_id), refresh)


@router.post("/refresh", response_model=TokenOut)
async def refresh(
    body: RefreshIn, request: Request, response: Response, store: StoreDep, config: AuthConfigDep
) -> dict[str, Any]:
    """Rotate: the old refresh token is spent, a new pair is returned."""
    claims = decode(config, body.refresh_token, "refresh")
    now = _now()
    spent = await store.sign_in.use_refresh(str(claims["jti"]), now)
    username, session_id = spent if spent else (None, None)
    principal = await _principal_of(store.users, username) if username else None
    if principal is None:
        await _audit(store, request, username or str(claims.get("sub", "")), "refresh_failed")
        raise HTTPException(401, "refresh token already used, revoked or expired")
    await _audit(store, request, principal.name, "refresh")
    new_refresh, jti, expires = issue_refresh(config, principal.name, now)
    if session_id is None:  # a token from before sessions: it starts one
        session_id = await open_session(store, request, principal.name, now, expires)
    await store.sign_in.save_refresh(jti, session_id, principal.name, expires)
    return _tokens(config, response, replace(principal, session_id=session_id), new_refresh)


@router.post("/logout", response_model=StatusOut)
async def logout(
    principal: CurrentPrincipal, request: Request, response: Response, store: StoreDep
) -> dict[str, str]:
    # Signing out ends this session (its refresh tokens revoked, its access tokens refused); a caller
    # without one (an older token) has every refresh token revoked, as before sessions.
    if principal.session_id is None:
        await store.users.revoke_refresh_tokens(principal.name, _now())
    else:
        await store.sign_in.end_sessions(principal.name, _now(), principal.name, principal.session_id)
    await _audit(store, request, principal.name, "sign_out")
    response.delete_cookie(ACCESS_COOKIE)
    return {"status": "signed out"}


@router.get("/me", response_model=UserOut)
async def me(principal: CurrentPrincipal) -> dict[str, Any]:
    return {
        "name": principal.name,
        "role": principal.role,
        "scope": principal.scope,
        "worker_id": principal.worker_id,
    }
