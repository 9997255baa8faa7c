"""Chat robots within their limits: what a group is told, how many messages a minute, and digests beyond.

WeCom and DingTalk group robots take 20 messages a minute and then refuse (errcode 45009 / 130101) or mute
the robot for minutes. A group needs to know when a case opens, escalates (a deadline passed: it is late),
is reopened, or closes; it does not need each sighting or clip (``incident.updated``), which would spend the
minute's budget in seconds. What the budget cannot carry one by one goes out as one digest per grid.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from router.notify.notice import Notice

#: The channel kinds that are group robots (router/notify/channels.py).
ROBOT_KINDS = frozenset({"wecom", "dingtalk"})
#: WeCom's and DingTalk's published limit per robot.
ROBOT_MESSAGES_PER_MINUTE = 20
#: How long a robot stays muted once over its limit: no pause after a "too fast" need be longer.
ROBOT_MUTE = timedelta(minutes=10)
_CLOSING = frozenset({"closed", "rejected"})


def robot_change(topic: str, payload: Mapping[str, Any]) -> str | None:
    """The change a group is told of (opened, escalated, reopened, closed), or None for one it is not."""
    if topic == "incident.opened":
        return "opened"
    if topic == "incident.escalated":
        return "escalated"
    if topic == "incident.reopened":
        return "reopened"
    if topic == "incident.updated" and payload.get("state") in _CLOSING:
        return "closed"
    return None


@dataclass
class SendWindow:
    """A token bucket whose tokens come back one ``period`` after each is spent: never more than ``limit``
    requests in any ``period``, however the sends fall (a refill rate alone would allow twice the limit
    across a period's boundary)."""

    limit: int = ROBOT_MESSAGES_PER_MINUTE
    period: timedelta = timedelta(minutes=1)
    _spent: deque[datetime] = field(default_factory=deque)
    _blocked_until: datetime | None = None

    def available(self, now: datetime) -> int:
        while self._spent and self._spent[0] <= now - self.period:
            self._spent.popleft()
        if self._blocked_until is not None and now < self._blocked_until:
            return 0
        return max(self.limit - len(self._spent), 0)

    def spend(self, now: datetime) -> None:
        self._spent.append(now)

    def next_free(self, now: datetime) -> datetime:
        """When the next token is back (now, if one is)."""
        if self.available(now) > 0:
            return now
        if self._blocked_until is not None and now < self._blocked_until:
            return self._blocked_until
        return self._spent[0] + self.period

    def exhaust(self, until: datetime) -> None:
        """The robot said "too fast": no token until ``until``; what was spent still counts after it."""
        self._blocked_until = until if self._blocked_until is None else max(self._blocked_until, until)


@dataclass(frozen=True, slots=True)
class Message:
    """One request: one notice on its own, or a digest of one grid's notices."""

    notices: tuple[Notice, ...]
    group: str | None = None

    @property
    def is_digest(self) -> bool:
        return self.group is not None


#: Bytes of a digest's text a robot takes: WeCom's markdown content is capped at 4096, DingTalk's at 20000.
DIGEST_BYTES: Mapping[str, int] = {"wecom": 4000, "dingtalk": 18000}
#: The rendered size of one grid's digest, in bytes.
DigestSize = Callable[[str, Sequence[Notice]], int]


def plan(
    notices: Sequence[Notice], tokens: int, *, size: DigestSize, digest_bytes: int
) -> tuple[list[Message], list[Notice]]:
    """What to send with ``tokens`` requests, and what waits for the next ones.

    Within the budget every notice goes on its own. Beyond it each grid's notices become one digest (split
    where the robot's message size would be exceeded), the grids with the oldest waiting notice first; a
    grid with a single notice sends it on its own. Nothing is dropped: what the tokens cannot carry waits.
    """
    ordered = sorted(notices, key=lambda n: n.outbox_id)
    if tokens <= 0:
        return [], ordered
    if len(ordered) <= tokens:
        return [Message((n,)) for n in ordered], []
    groups: dict[str, list[Notice]] = {}
    for notice in ordered:
        groups.setdefault(notice.digest_group, []).append(notice)
    messages: list[Message] = []
    waiting: list[Notice] = []
    for group, items in groups.items():
        for chunk in _chunks(group, items, size, digest_bytes):
            if len(messages) >= tokens:
                waiting.extend(chunk)
            elif len(chunk) == 1:
                messages.append(Message((chunk[0],)))
            else:
                messages.append(Message(tuple(chunk), group))
    return messages, sorted(waiting, key=lambda n: n.outbox_id)


def _chunks(group: str, items: Sequence[Notice], size: DigestSize, limit: int) -> list[list[Notice]]:
    chunks: list[list[Notice]] = []
    current: list[Notice] = []
    for notice in items:
        if current and size(group, [*current, notice]) > limit:
            chunks.append(current)
            current = []
        current.append(notice)
    if current:
        chunks.append(current)
    return chunks
