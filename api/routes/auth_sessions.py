"""A user's sessions (list, end), changing one's password, and what admins may do about another user's
sign-in: end their sessions, lift a lock. Every change here is in the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.audit_trail import mark_audited
from api.auth import ACCESS_COOKIE, hash_password, verify_password
from api.deps import AdminPrincipal, AuthConfigDep, CurrentPrincipal, StoreDep
from api.sign_in import LOCK_RESPONSES, client_address, count_failure, refuse_if_locked
from models.store import SessionRecord, Store

router = APIRouter(prefix="/api/auth", tags=["auth"])

#: The shortest password a user may choose (the CLI's rule too).
MIN_PASSWORD = 10


def _now() -> datetime:
    return datetime.now(UTC)


class SessionOut(BaseModel):
    id: str
    user_agent: str = Field(description="The browser or client that signed in, as it named itself.")
    client: str = Field(description="The address it signed in from.")
    created_at: datetime
    last_used_at: datetime = Field(description="Last request with this session's token (to the minute).")
    expires_at: datetime
    current: bool = Field(description="The session of this request.")


class SessionsOut(BaseModel):
    username: str
    sessions: list[SessionOut]


class EndedOut(BaseModel):
    ended: list[str] = Field(description="Ids of the sessions ended.")


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=MIN_PASSWORD, max_length=256)


class StatusOut(BaseModel):
    status: str


def _out(record: SessionRecord, current: str | None) -> SessionOut:
    return SessionOut(
        id=record.id,
        user_agent=record.user_agent,
        client=record.client,
        created_at=record.created_at,
        last_used_at=record.last_used_at,
        expires_at=record.expires_at,
        current=record.id == current,
    )


async def _audit(store: Store, request: Request, actor: str, action: str, user: str, reason: str) -> None:
    mark_audited(request)
    await store.audit.record(
        actor=actor,
        action=action,
        object_type="user",
        object_id=user,
        reason=reason,
        client=client_address(request),
    )


@router.get("/sessions", response_model=SessionsOut)
async def my_sessions(principal: CurrentPrincipal, store: StoreDep) -> SessionsOut:
    """The caller's open sessions, newest first; ``current`` marks the one this request uses."""
    records = await store.sign_in.sessions(principal.name, _now())
    return SessionsOut(username=principal.name, sessions=[_out(r, principal.session_id) for r in records])


@router.delete("/sessions/{session_id}", response_model=EndedOut)
async def end_my_session(
    session_id: str, principal: CurrentPrincipal, request: Request, store: StoreDep
) -> EndedOut:
    """End one of the caller's sessions: its refresh tokens are revoked and its access tokens refused."""
    ended = await store.sign_in.end_sessions(principal.name, _now(), principal.name, session_id)
    if not ended:
        raise HTTPException(404, f"no open session {session_id} of yours")
    await _audit(store, request, principal.name, "session_ended", principal.name, f"session {session_id}")
    return EndedOut(ended=ended)


@router.delete("/sessions", response_model=EndedOut)
async def end_my_other_sessions(principal: CurrentPrincipal, request: Request, store: StoreDep) -> EndedOut:
    """End every session of the caller but the current one (a lost phone, a shared desk)."""
    now = _now()
    ended = [
        sid
        for record in await store.sign_in.sessions(principal.name, now)
        if record.id != principal.session_id
        for sid in await store.sign_in.end_sessions(principal.name, now, principal.name, record.id)
    ]
    await _audit(
        store, request, principal.name, "session_ended", principal.name, f"{len(ended)} other sessions"
    )
    return EndedOut(ended=ended)


@router.post("/password", response_model=StatusOut, responses={423: LOCK_RESPONSES[423]})
async def change_password(
    body: PasswordChange,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    store: StoreDep,
    config: AuthConfigDep,
) -> StatusOut:
    """Change one's own password: every session ends, this one included, and every refresh token is
    revoked, so whoever held the old password or a stolen token is out. A wrong current password counts
    towards the account's lock like a failed sign-in: a stolen token is no way to guess the password."""
    user = await store.users.get(principal.name)
    if user is None or principal.via != "token":
        raise HTTPException(403, "only a signed-in user may change their password")
    await refuse_if_locked(store, request, user.username, _now(), config.sign_in)
    if not verify_password(user.password_hash, body.current_password):
        await _audit(store, request, user.username, "password_change_failed", user.username, "wrong password")
        # The account only: guessing through a signed-in session is one account's business, and the
        # address limit is there for sign-ins sprayed over many names.
        await count_failure(store, request, user.username, _now(), config.sign_in, per_address=False)
        raise HTTPException(403, "the current password is wrong")
    if body.new_password == body.current_password:
        raise HTTPException(422, "the new password is the current one")
    await store.users.set_password(user.username, hash_password(body.new_password))
    await _audit(store, request, user.username, "password_changed", user.username, "every session ended")
    response.delete_cookie(ACCESS_COOKIE)
    return StatusOut(status="password changed: sign in again")


@router.get("/users/{username}/sessions", response_model=SessionsOut)
async def user_sessions(username: str, admin: AdminPrincipal, store: StoreDep) -> SessionsOut:
    records = await store.sign_in.sessions(username, _now())
    return SessionsOut(username=username, sessions=[_out(r, admin.session_id) for r in records])


@router.delete("/users/{username}/sessions", response_model=EndedOut)
async def end_user_sessions(
    username: str, admin: AdminPrincipal, request: Request, store: StoreDep
) -> EndedOut:
    """End every session of a user (and revoke their refresh tokens): a stolen phone, a leaver."""
    if await store.users.get(username) is None:
        raise HTTPException(404, f"no user {username}")
    ended = await store.sign_in.end_sessions(username, _now(), admin.name)
    await _audit(store, request, admin.name, "sessions_ended", username, f"{len(ended)} sessions")
    return EndedOut(ended=ended)


@router.delete("/users/{username}/lock", response_model=StatusOut)
async def unlock_user(username: str, admin: AdminPrincipal, request: Request, store: StoreDep) -> StatusOut:
    """Lift a sign-in lock before it ends (the user proved who they are some other way)."""
    if not await store.sign_in.unlock("user", username):
        raise HTTPException(404, f"{username} is not locked")
    await _audit(store, request, admin.name, "sign_in_unlocked", username, "lifted by an administrator")
    return StatusOut(status=f"{username} unlocked")
