"""Sorting ONVIF failures into what a person can act on: wrong login, unreachable, not ONVIF.

onvif-zeep-async turns most problems into ``ONVIFError("Device doesn't support service …")`` once
``update_xaddrs`` has failed quietly; we look at the first authenticated call's error instead, where
the camera's answer (SOAP fault ``NotAuthorized``, HTTP 401) is still visible.
"""

from __future__ import annotations

import asyncio

import aiohttp
from onvif.exceptions import ONVIFAuthError, ONVIFError, ONVIFTimeoutError
from zeep.exceptions import Error as ZeepError
from zeep.exceptions import Fault, TransportError, XMLParseError, XMLSyntaxError

from ingest.onvif.models import Failure, FailureKind

#: Fault texts and subcodes cameras use for a refused login (ONVIF core spec §5.12 plus vendor wording).
_AUTH_MARKERS = (
    "notauthorized",
    "not authorized",
    "sender not authorized",
    "authority failure",
    "unauthorized",
    "authentication",
    "failedauthentication",
    "invalid username",
    "password",
)

#: What one ONVIF call may raise for reasons outside our code.
CALL_ERRORS: tuple[type[BaseException], ...] = (
    ONVIFError,
    ZeepError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
    OSError,
)


def _fault_text(fault: Fault) -> str:
    parts = [str(fault.message or ""), str(fault.code or "")]
    parts += [str(getattr(code, "localname", code)) for code in (fault.subcodes or [])]
    return " ".join(parts).lower()


def is_auth_failure(exc: BaseException) -> bool:
    if isinstance(exc, ONVIFAuthError):
        return True
    if isinstance(exc, Fault):
        text = _fault_text(exc)
        return any(marker in text for marker in _AUTH_MARKERS)
    if isinstance(exc, TransportError):
        return exc.status_code in (401, 403)
    if isinstance(exc, aiohttp.ClientResponseError):
        return exc.status in (401, 403)
    return False


def classify(exc: BaseException, step: str) -> Failure:
    """A Failure for exc raised during step; messages carry no URL, so no credentials either."""
    if is_auth_failure(exc):
        reason = "login failed: the device refused the user name or password"
        return Failure(FailureKind.LOGIN_FAILED, step, reason)
    if isinstance(exc, (asyncio.TimeoutError, ONVIFTimeoutError)):
        return Failure(FailureKind.TIMEOUT, step, "no answer in time")
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = f"cannot connect: {exc.os_error.strerror or type(exc.os_error).__name__}"
        return Failure(FailureKind.UNREACHABLE, step, reason)
    if isinstance(exc, (aiohttp.ClientError, OSError)):
        return Failure(FailureKind.UNREACHABLE, step, f"connection failed: {type(exc).__name__}")
    if isinstance(exc, Fault):
        return Failure(FailureKind.ERROR, step, f"SOAP fault: {exc.message}")
    if isinstance(exc, TransportError):
        return Failure(FailureKind.NOT_ONVIF, step, f"HTTP {exc.status_code} from the device service")
    if isinstance(exc, (XMLSyntaxError, XMLParseError)):
        return Failure(FailureKind.NOT_ONVIF, step, f"the answer is not valid SOAP XML: {exc}")
    return Failure(FailureKind.ERROR, step, f"{type(exc).__name__}: {exc}")
