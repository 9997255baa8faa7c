"""The asyncpg store: the only place that speaks SQL, one repository per aggregate over one pool.

``store.grids``, ``store.roster``, ``store.cameras``: the site (replaced by imports, read by the centre);
``store.events`` records events into incidents; ``store.incidents`` reads them and moves them on;
``store.evidence``, ``store.attachments``: their files; ``store.outbox``, ``store.deliveries``: what
announces each change; ``store.timers``: deadlines; ``store.verification``: camera-verified closure;
``store.users``, ``store.audit``: who may do what, and what they did; ``store.kpis``: what the KPIs
are computed from.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from models.db import migrate
from models.store.attachments import AttachmentRepository, StoredAttachment
from models.store.audit import AuditEntry, AuditRepository, ChainBreak, ChainReport
from models.store.base import TRANSIENT_DB_ERRORS, NotFound, OpenTwin, StaleVersion, init_connection
from models.store.camera_events import CameraEventRepository
from models.store.cameras import CameraRepository
from models.store.deliveries import ClaimedDelivery, DeliveryRecord, DeliveryRepository
from models.store.events import EventRepository, Recording
from models.store.evidence import EvidenceRepository, StoredEvidence
from models.store.gb28181 import GbRepository
from models.store.grids import GridRepository
from models.store.incidents import IncidentRepository
from models.store.kpis import KpiRepository
from models.store.outbox import OutboxRepository, OutboxRow
from models.store.prometheus import PrometheusRepository
from models.store.retention import Holding, PrunedEvidence, RetentionRepository
from models.store.roster import RosterRepository
from models.store.sign_in import Lock, SessionRecord, SignInRepository
from models.store.timers import FiredTimer, TimerDue, TimerFiring, TimerRecord, TimerRepository
from models.store.users import ApiKeyRecord, UserRecord, UserRepository
from models.store.verification import VerificationRepository

logger = logging.getLogger(__name__)

__all__ = [
    "TRANSIENT_DB_ERRORS",
    "ApiKeyRecord",
    "AuditEntry",
    "ChainBreak",
    "ChainReport",
    "ClaimedDelivery",
    "DeliveryRecord",
    "FiredTimer",
    "Holding",
    "Lock",
    "NotFound",
    "OpenTwin",
    "OutboxRow",
    "PrunedEvidence",
    "Recording",
    "SessionRecord",
    "StaleVersion",
    "Store",
    "StoredAttachment",
    "StoredEvidence",
    "TimerDue",
    "TimerFiring",
    "TimerRecord",
    "UserRecord",
]


class Store:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.grids = GridRepository(pool)
        self.roster = RosterRepository(pool)
        self.cameras = CameraRepository(pool)
        self.events = EventRepository(pool)
        self.incidents = IncidentRepository(pool)
        self.evidence = EvidenceRepository(pool)
        self.attachments = AttachmentRepository(pool)
        self.outbox = OutboxRepository(pool)
        self.deliveries = DeliveryRepository(pool)
        self.timers = TimerRepository(pool)
        self.verification = VerificationRepository(pool)
        self.users = UserRepository(pool)
        self.audit = AuditRepository(pool)
        self.kpis = KpiRepository(pool)
        self.camera_events = CameraEventRepository(pool)
        self.retention = RetentionRepository(pool)
        self.sign_in = SignInRepository(pool)
        self.prometheus = PrometheusRepository(pool)
        self.gb28181 = GbRepository(pool)

    @classmethod
    async def connect(cls, url: str, *, run_migrations: bool = True, max_size: int = 8) -> Store:
        if run_migrations:
            conn = await asyncpg.connect(url)
            try:
                await migrate(conn)
            finally:
                await conn.close()
        pool = await asyncpg.create_pool(url, min_size=1, max_size=max_size, init=init_connection)
        return cls(pool)

    async def close(self, timeout_s: float = 10.0) -> None:
        """Close the pool. A connection still out after ``timeout_s`` (a worker that never gave it back)
        is terminated rather than waited for: shutting down must not hang for ever on one."""
        try:
            await asyncio.wait_for(self.pool.close(), timeout_s)
        except TimeoutError:
            logger.warning("a database connection was not given back within %.0f s: terminating", timeout_s)
            self.pool.terminate()

    async def counts(self) -> dict[str, int]:
        """How much the installation holds; also the health probe's one round trip."""
        row = await self.pool.fetchrow(
            "SELECT (SELECT count(*) FROM grids) AS grids, (SELECT count(*) FROM shifts) AS shifts,"
            " (SELECT count(*) FROM cameras) AS cameras, (SELECT count(*) FROM incidents) AS incidents,"
            " (SELECT count(*) FROM events) AS events"
        )
        assert row is not None
        return {k: int(v) for k, v in dict(row).items()}
