"""When to try a delivery again, and what a channel's answer means."""

from __future__ import annotations

import enum
import json
from datetime import timedelta

# WeCom and DingTalk answer HTTP 200 with an error code; these two mean "too many messages".
_RATE_LIMIT_CODES = frozenset({45009, 130101})
# Their words for it, for a code this list does not know yet (DingTalk has answered "send too fast" under
# other codes): a message lost to a new code would be a silent loss, a needless pause costs only time.
_RATE_LIMIT_WORDS = ("too fast", "freq out of limit", "frequency", "频率", "过快")


class Outcome(enum.StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    RATE_LIMITED = "rate_limited"
    REJECTED = "rejected"  # the channel will never take this message: retrying cannot help


def backoff(attempt: int, base: timedelta, cap: timedelta, jitter: float = 0.0) -> timedelta:
    """Delay before try `attempt + 1` after `attempt` failures: base·2^(attempt-1), capped.

    `jitter` in [0, 1) comes from the caller (a random draw in production, 0 in tests) and shortens
    the delay by up to that fraction, so a burst of failures does not retry in lockstep.
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    if not 0.0 <= jitter < 1.0:
        raise ValueError(f"jitter must be in [0, 1), got {jitter}")
    # 2**40 seconds is beyond any sane cap yet still inside timedelta's range, so no overflow.
    delay: timedelta = min(base * (2 ** min(attempt - 1, 40)), cap)
    return delay * (1.0 - jitter)


def classify(status: int, body: bytes) -> Outcome:
    if status == 429:
        return Outcome.RATE_LIMITED
    if status >= 500 or status in (408, 425):
        return Outcome.RETRY
    if status >= 400:
        return Outcome.REJECTED
    code, message = _error(body)
    if code in _RATE_LIMIT_CODES or (code not in (None, 0) and any(w in message for w in _RATE_LIMIT_WORDS)):
        return Outcome.RATE_LIMITED
    if code not in (None, 0):
        # Robots report bad keys, bad signatures and malformed messages this way: none will heal.
        return Outcome.REJECTED
    return Outcome.DELIVERED


def _error(body: bytes) -> tuple[int | None, str]:
    """A robot's errcode and errmsg (lower case), if its answer has them."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, ""
    if not isinstance(document, dict):
        return None, ""
    code, message = document.get("errcode"), document.get("errmsg")
    return (code if isinstance(code, int) else None), (message.lower() if isinstance(message, str) else "")
