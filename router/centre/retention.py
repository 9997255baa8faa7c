"""The retention worker: prunes evidence of closed cases by age and quota, and watches free space.

Below the free-space floor it pauses clips (the largest evidence) rather than let PostgreSQL run out of
room, since a database that cannot write its WAL stops taking events too; events and snapshots keep being
recorded. Pausing and resuming are logged as errors/warnings and written to the audit trail, and the
state is read by the API (/api/storage) and /metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from models.clock import Clock
from models.store import Store
from router.retention import MB, RetentionPolicy

logger = logging.getLogger(__name__)

ACTOR = "system:retention"


@dataclass
class StorageGuard:
    """Shared by the retention worker, which decides, and intake, which obeys: may new clips be stored."""

    clips_paused: bool = False
    reason: str = ""
    free_bytes: int | None = None
    held_bytes: int = 0
    open_bytes: int = 0
    pruned_total: int = 0
    dropped_clips: int = 0


def free_space_of(path: Path | None) -> Callable[[], int | None]:
    """Free bytes of the file system holding ``path`` (the embedded database); None when not local."""

    def free() -> int | None:
        if path is None:
            return None
        try:
            return shutil.disk_usage(path).free
        except OSError:
            return None

    return free


class Retention:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        policy: RetentionPolicy,
        guard: StorageGuard,
        free_bytes: Callable[[], int | None],
    ) -> None:
        self._store = store
        self._clock = clock
        self.policy = policy
        self.guard = guard
        self._free_bytes = free_bytes
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        """Run now: intake saw the database refuse a write for lack of space."""
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # retention must outlive a restarting database
                logger.exception("evidence retention failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.policy.every_s)
            self._wakeup.clear()

    async def run_once(self) -> int:
        """Prune what the policy lets go, then decide whether clips may be stored; returns how many went."""
        now = self._clock.now()
        named, default = self.policy.cutoffs(now)
        pruned = len(await self._store.retention.prune_older_than(named, default, now))
        if self.policy.quota_bytes is not None:
            pruned += len(await self._store.retention.prune_to_quota(self.policy.quota_bytes, now))
        if pruned:
            logger.info("retention pruned %d evidence of closed cases", pruned)
        holding = await self._store.retention.holding()
        self.guard.held_bytes, self.guard.open_bytes = holding.held_bytes, holding.open_bytes
        self.guard.pruned_total = holding.pruned_count
        self.guard.free_bytes = free = self._free_bytes()
        await self._decide(self.policy.clips_allowed(free), free)
        return pruned

    async def disk_full(self, detail: str) -> None:
        """The database refused a clip for lack of space: pause clips at once, prune, look again."""
        await self._decide(False, self._free_bytes(), detail=detail)
        self.wake()

    async def _decide(self, allowed: bool, free: int | None, detail: str = "") -> None:
        if allowed == (not self.guard.clips_paused):
            return
        if allowed:
            self.guard.clips_paused, self.guard.reason = False, ""
            logger.warning("storage: %s free again, clips resumed", _mb(free))
            action, reason = "clips_resumed", f"{_mb(free)} free"
        else:
            floor = _mb(self.policy.min_free_bytes)
            reason = detail or f"{_mb(free)} free, under the floor of {floor}"
            self.guard.clips_paused, self.guard.reason = True, reason
            logger.error("storage low (%s): new clips refused, events and snapshots still recorded", reason)
            action = "clips_paused"
        try:
            await self._store.audit.record(
                actor=ACTOR, action=action, object_type="storage", object_id="evidence", reason=reason
            )
        except Exception:  # a full disk may refuse the audit row too; the state and the log still hold
            logger.exception("storage state change not audited")


def _mb(value: int | None) -> str:
    return "unknown" if value is None else f"{value / MB:.0f} MB"
