"""API versions: every route is served under ``/api/v1``; the unversioned ``/api/...`` paths of 0.1 still
answer, with ``Deprecation``, ``Sunset`` and a ``Link`` to their successor, until LEGACY_REMOVED_IN.

Routes are declared once, on their ``/api/...`` paths (the routers stay as they are); this middleware maps a
``/api/v1/...`` request onto that route, and the spec lists the ``/api/v1`` paths only. A v2 would get its
own routers and prefix; v1 stays what this spec says.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.responses import with_problems

V1 = "/api/v1"
LEGACY = "/api"
#: The release that drops the unversioned paths, and the date it is due (the Sunset header).
LEGACY_REMOVED_IN = "1.0.0"
SUNSET = datetime(2027, 6, 30, tzinfo=UTC)
#: When the unversioned paths were deprecated (release 0.2.0), as RFC 9745 writes it.
DEPRECATED_AT = datetime(2026, 12, 5, tzinfo=UTC)


def is_v1(path: str) -> bool:
    return path == V1 or path.startswith(V1 + "/")


def legacy_headers(path: str) -> list[tuple[bytes, bytes]]:
    successor = V1 + path[len(LEGACY) :]
    return [
        (b"deprecation", f"@{int(DEPRECATED_AT.timestamp())}".encode()),
        (b"sunset", format_datetime(SUNSET, usegmt=True).encode()),
        (b"link", f'<{successor}>; rel="successor-version"'.encode("latin-1", "replace")),
    ]


def _v1_location(value: bytes) -> bytes:
    """``/api/x`` or ``http://host/api/x`` as its v1 twin; any other location as it is."""
    legacy = LEGACY.encode() + b"/"
    scheme_end = value.find(b"://")
    start = value.find(b"/", scheme_end + 3) if scheme_end >= 0 else 0
    if start < 0 or not value[start:].startswith(legacy) or is_v1(value[start:].decode("latin-1")):
        return value
    return value[:start] + V1.encode() + value[start + len(LEGACY) :]


class ApiVersions:
    """Map ``/api/v1/x`` onto the route of ``/api/x``; mark answers on ``/api/x`` itself deprecated."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if is_v1(path):
            inner = LEGACY + path[len(V1) :]
            raw: bytes = scope.get("raw_path") or path.encode()
            scope = {**scope, "path": inner, "raw_path": LEGACY.encode() + raw[len(V1) :]}

            async def located(message: Message) -> None:
                # A Location the app writes (a WHEP session, a trailing-slash redirect) names the route's
                # /api/... path; a v1 caller is sent on within v1.
                if message["type"] == "http.response.start":
                    headers = [(k, _v1_location(v) if k.lower() == b"location" else v)
                               for k, v in message.get("headers", [])]  # fmt: skip
                    message = {**message, "headers": headers}
                await send(message)

            await self.app(scope, receive, located)
            return
        if not path.startswith(LEGACY + "/") or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = legacy_headers(path)

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, marked)


def v1_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with every ``/api/...`` path under ``/api/v1``."""
    paths = {
        (V1 + p[len(LEGACY) :] if p.startswith(LEGACY + "/") else p): item
        for p, item in spec.get("paths", {}).items()
    }
    return {**spec, "paths": paths}


def install(app: FastAPI) -> None:
    """Serve /api/v1 and document it; call last in create_app so every other layer sees ``/api/...``."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_problems(v1_spec(plain()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(ApiVersions)
