"""Security headers on every response (issue 15): a Content-Security-Policy without inline script, no
framing, no MIME sniffing, no referrer.

The pages keep all their script in api/static/*.js, so ``script-src 'self'`` is enough for them and an
injected inline script or ``on…=`` attribute does not run. The API's documentation pages (Swagger UI,
ReDoc) are FastAPI's: they load their bundle from a CDN and start it with an inline script. They get a
policy of their own that allows the CDN and exactly their inline scripts, by hash, never 'unsafe-inline'
for script; the hashes are taken from the page as served, so a change in FastAPI's template is followed.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # Snapshots and clips come from the API; blob: for media a page assembles itself.
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
DOCS_CDN = "https://cdn.jsdelivr.net"
#: The documentation pages FastAPI serves (under any prefix, e.g. /api/v1/docs).
DOCS_SUFFIXES = ("/docs", "/redoc", "/docs/oauth2-redirect")
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)

COMMON_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), payment=(), usb=()"),
)


def docs_policy(html: bytes) -> str:
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' {DOCS_CDN} {hashes}".rstrip(),
            # Swagger UI and ReDoc style their widgets inline; only script is held to no-inline.
            f"style-src 'self' {DOCS_CDN} https://fonts.googleapis.com 'unsafe-inline'",
            "font-src 'self' https://fonts.gstatic.com",
            "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly",
            f"connect-src 'self' {DOCS_CDN}",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        )
    )


def _with(headers: list[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    # A route that set one of these itself knows better (an evidence download, say): keep its value.
    present = {name.lower() for name, _ in headers}
    return headers + [(name, value) for name, value in extra if name not in present]


class SecurityHeaders:
    """ASGI middleware: outermost, so error responses and static files get the headers too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if str(scope.get("path", "")).endswith(DOCS_SUFFIXES):
            await self._docs(scope, receive, send)
            return
        extra = [*COMMON_HEADERS, (b"content-security-policy", PAGE_POLICY.encode())]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": _with(list(message.get("headers", [])), extra)}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hold the (small) documentation page back until its inline scripts can be hashed."""
        start: Message | None = None
        body = bytearray()

        async def collect(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body", False) or start is None:
                return
            policy = docs_policy(bytes(body)).encode()
            headers = _with(
                list(start.get("headers", [])), [*COMMON_HEADERS, (b"content-security-policy", policy)]
            )
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": bytes(body), "more_body": False})

        await self.app(scope, receive, collect)
