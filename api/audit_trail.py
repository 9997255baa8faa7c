"""Every change the API accepts is in the audit trail, including routes that do not record it themselves.

Routes with a record of their own (sign-in, the camera registry, incident steps in the incident log) mark
the request as audited; any other POST, PUT, PATCH or DELETE under /api that succeeds for a signed-in
caller (roster, configuration and whatever a later resource adds) is recorded here: the caller, the
route's template and the path. The record is written before the response starts, so an accepted change
whose record could not be written answers 500 rather than going unrecorded.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import Principal

CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def note_caller(request: Request, principal: Principal) -> None:
    """Who the request is from, for the trail (called where the caller is established)."""
    request.state.principal = principal


def mark_audited(request: Request) -> None:
    """The route recorded this request itself; the middleware adds nothing."""
    request.state.audited = True


class AuditChanges:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in CHANGES or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return

        async def recorded(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                await _record(scope, message["status"])
            await send(message)

        await self.app(scope, receive, recorded)


async def _record(scope: Scope, status: int) -> None:
    state: dict[str, Any] = scope.get("state") or {}
    principal = state.get("principal")
    if principal is None or state.get("audited"):
        return
    route = scope.get("route")
    path = scope["path"].replace("\x00", "")  # a decoded %00 is no text PostgreSQL stores
    template = getattr(route, "path", path)
    client = scope.get("client")
    await scope["app"].state.context.store.audit.record(
        actor=principal.name,
        action=f"{scope['method']} {template}",
        object_type="request",
        object_id=path,
        reason=str(status),
        client=client[0] if client else "",
    )
