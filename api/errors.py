"""How the HTTP layer says no: bodies too large, input the database refuses, objects that are not there."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from api.auth import InvalidToken
from models.store import NotFound

#: Request bodies above this are refused with 413 before they are read.
MAX_BODY_BYTES = 1 << 20


async def limit_body(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    length = request.headers.get("content-length")
    if length is not None and (not (length.isascii() and length.isdigit()) or int(length) > MAX_BODY_BYTES):
        return JSONResponse({"detail": f"request body over {MAX_BODY_BYTES} bytes"}, status_code=413)
    return await call_next(request)


async def bad_data(_: Request, exc: Exception) -> Response:
    # Input the schema allows but PostgreSQL cannot store (a NUL byte in a text field, say).
    return JSONResponse(
        {"detail": f"input rejected by the database: {exc.__class__.__name__}"}, status_code=422
    )


async def not_found(_: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def unauthorized(_: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})


def install(app: FastAPI) -> None:
    app.middleware("http")(limit_body)
    app.add_exception_handler(asyncpg.DataError, bad_data)
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(InvalidToken, unauthorized)
