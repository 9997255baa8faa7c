"""Credential-free renderings of camera URLs, for logs, health reasons and error messages.

RTSP URLs carry the camera's user and password in their authority, and some vendors put them in the
query string too; anything that may end up in a log line goes through here first.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"

#: Query parameters that carry credentials on common NVRs and cameras (lower-case).
SECRET_QUERY_KEYS = frozenset(
    {"user", "username", "usr", "login", "password", "passwd", "pass", "pwd", "token", "auth", "key"}
)


def mask_url(url: str) -> str:
    """Return url with its user, password and credential-like query values replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        # Echoing a URL we cannot parse could echo its password too.
        return "<unparseable url>"
    netloc = parts.netloc
    if parts.username is not None or parts.password is not None:
        _, _, host = netloc.rpartition("@")
        userinfo = f"{MASK}:{MASK}" if parts.password is not None else MASK
        netloc = f"{userinfo}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(key.lower() in SECRET_QUERY_KEYS for key, _ in pairs):
            masked = [(key, MASK if key.lower() in SECRET_QUERY_KEYS else value) for key, value in pairs]
            query = urlencode(masked, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact(text: str, url: str) -> str:
    """Replace every occurrence of url (and of its user:password part) in text by the masked form.

    For messages we did not write ourselves, such as FFmpeg errors that quote the URL they failed on.
    """
    masked = mask_url(url)
    text = text.replace(url, masked)
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return text
    userinfo, at, _ = netloc.rpartition("@")
    if at and userinfo:
        text = text.replace(userinfo + "@", f"{MASK}@")
    return text
