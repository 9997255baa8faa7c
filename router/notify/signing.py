"""Request signatures: our own webhook's HMAC header and DingTalk's timestamp+sign query."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote_plus, urlsplit, urlunsplit

SIGNATURE_HEADER = "X-Gridwatch-Signature"
TIMESTAMP_HEADER = "X-Gridwatch-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """'sha256=<hex>' over '<timestamp>.<body>'; the timestamp inside the MAC stops replays of old bodies."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_webhook(secret: str, timestamp: int, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(webhook_signature(secret, timestamp, body), signature)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk robot 加签: base64(HMAC-SHA256(key=secret, msg='<timestamp>\\n<secret>')), URL-quoted."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return quote_plus(base64.b64encode(mac.digest()).decode())


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    parts = urlsplit(url)
    extra = f"timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))
