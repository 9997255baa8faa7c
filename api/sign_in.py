"""Locks after failed sign-ins, and the session each sign-in opens (issue 15).

Kept apart from the routes so that the token route reads as before: check the locks, count a failure,
open a session. Locks and sessions live in PostgreSQL (models/store/sign_in.py).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any

from fastapi import HTTPException, Request

from api.audit_trail import mark_audited
from api.responses import Problem
from models.config.sign_in import SignInSection
from models.store import Lock, Store


def name_key(typed: str, known: bool) -> str:
    """What failures are counted under: a known user's name, else a digest of what was typed (people type
    their password into the name field). Unknown names are counted and locked like known ones, so that a
    lock tells nobody whether the account exists."""
    return typed if known else "sha256:" + hashlib.sha256(typed.encode()).hexdigest()[:16]


def _actor(key: str) -> str:
    return "(unknown)" if key.startswith("sha256:") else key


#: The refusals of a route that counts failed sign-ins, for its OpenAPI responses.
LOCK_RESPONSES: dict[int | str, dict[str, Any]] = {
    423: {"model": Problem, "description": "The account is locked until the time the message gives "
          "(Retry-After says in how many seconds)"},
    429: {"model": Problem, "description": "Too many failed sign-ins from this address: locked until the "
          "time the message gives (Retry-After)"},
}  # fmt: skip


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def refusal(lock: Lock, now: datetime, policy: SignInSection) -> HTTPException:
    """423 for a locked account, 429 for a locked address; the message says until when."""
    retry = max(1, int((lock.locked_until - now).total_seconds()) + 1)
    window = f"{policy.window_minutes:g} minutes"
    if lock.kind == "user":
        return HTTPException(
            423,
            f"account locked until {_iso(lock.locked_until)} after {lock.failures} failed sign-ins within "
            f"{window}: try again then, or ask an administrator to unlock it",
            headers={"Retry-After": str(retry)},
        )
    return HTTPException(
        429,
        f"too many failed sign-ins from this address: locked until {_iso(lock.locked_until)}",
        headers={"Retry-After": str(retry)},
    )


async def _audit(
    store: Store, request: Request, actor: str, action: str, object_type: str, object_id: str, reason: str
) -> None:
    mark_audited(request)
    await store.audit.record(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        reason=reason,
        client=client_address(request),
    )


async def refuse_if_locked(
    store: Store, request: Request, key: str, now: datetime, policy: SignInSection
) -> None:
    """Raise the refusal when the address or the account (``name_key``) is locked; audited."""
    address = client_address(request)
    lock = await store.sign_in.lock("address", address, now)
    if lock is None:
        lock = await store.sign_in.lock("user", key, now)
    if lock is None:
        return
    why = f"{lock.kind} locked until {_iso(lock.locked_until)}"
    await _audit(store, request, _actor(key), "sign_in_refused", "user", key, why)
    raise refusal(lock, now, policy)


async def count_failure(
    store: Store,
    request: Request,
    key: str,
    now: datetime,
    policy: SignInSection,
    *,
    per_address: bool = True,
) -> None:
    """Count a failed sign-in for the account (``name_key``) and, with ``per_address``, the address; raise
    the refusal when it locks either."""
    locks: list[Lock] = []
    lock = await store.sign_in.fail(
        "user", key, now, window=policy.window, limit=policy.max_failures, lockout=policy.lockout
    )
    locks += [lock] if lock else []
    if per_address:
        lock = await store.sign_in.fail(
            "address",
            client_address(request),
            now,
            window=policy.window,
            limit=policy.max_failures_per_address,
            lockout=policy.lockout,
        )
        locks += [lock] if lock else []
    for lock in locks:
        reason = (
            f"{lock.failures} failed sign-ins within {policy.window_minutes:g} minutes: "
            f"locked until {_iso(lock.locked_until)}"
        )
        object_type = "user" if lock.kind == "user" else "address"
        await _audit(store, request, _actor(key), "sign_in_locked", object_type, lock.key, reason)
    if locks:
        raise refusal(locks[0], now, policy)


async def open_session(
    store: Store, request: Request, username: str, now: datetime, expires: datetime
) -> str:
    session_id = uuid.uuid4().hex
    user_agent = request.headers.get("user-agent", "")
    await store.sign_in.open_session(session_id, username, user_agent, client_address(request), now, expires)
    return session_id
