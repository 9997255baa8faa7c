"""The body of ``POST /api/v1/auth/token``: JSON, or the OAuth2 password form (RFC 6749 §4.3).

The form is what the "Authorize" dialog of /docs and OAuth2 client libraries send; it is parsed here with
the standard library (FastAPI's own form support needs python-multipart, which this service does not
otherwise need). Both bodies end as the same ``Credentials``; unknown fields are refused in both.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

FORM = "application/x-www-form-urlencoded"
#: Fields an OAuth2 client may send with the password grant; gridwatch has no scopes or client ids and
#: ignores them rather than refusing a standard client.
OAUTH2_EXTRAS = frozenset({"scope", "client_id", "client_secret"})


def token_body(credentials: type[BaseModel]) -> dict[str, Any]:
    """The request body as the spec states it (openapi_extra), both media types."""
    schema = credentials.model_json_schema()
    form = {
        "type": "object",
        "required": ["grant_type", "username", "password"],
        "properties": {
            "grant_type": {"type": "string", "enum": ["password"]},
            "username": schema["properties"]["username"],
            "password": schema["properties"]["password"],
            "scope": {"type": "string", "description": "ignored"},
            "client_id": {"type": "string", "description": "ignored"},
            "client_secret": {"type": "string", "description": "ignored"},
        },
        "additionalProperties": False,
    }
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}, FORM: {"schema": form}},
        }
    }


def _refused(problems: list[str]) -> HTTPException:
    return HTTPException(422, [{"reason": p} for p in problems])


async def read_credentials(request: Request, model: type[M]) -> M:
    """The credentials of either body; 415 for another media type, 422 naming what is wrong."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if media_type == FORM:
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
        except (UnicodeDecodeError, ValueError):
            raise _refused(["the form is not UTF-8 application/x-www-form-urlencoded"]) from None
        fields = dict(pairs)
        unknown = set(fields) - {"grant_type", "username", "password"} - OAUTH2_EXTRAS
        problems = [f"{k}: unknown field" for k in sorted(unknown)]
        if fields.get("grant_type") != "password":
            problems.append("grant_type: must be 'password' (the OAuth2 password grant)")
        if problems:
            raise _refused(problems)
        data: object = {k: v for k, v in fields.items() if k in ("username", "password")}
    elif media_type in ("application/json", ""):
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, ValueError):
            raise _refused(["the body is not JSON"]) from None
    else:
        raise HTTPException(415, f"send JSON or {FORM}, not {media_type!r}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _refused(
            [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()]
        ) from None


def credentials_of(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """A dependency reading ``model`` from either body (the route then declares no body of its own)."""

    async def dependency(request: Request) -> M:
        return await read_credentials(request, model)

    return dependency
