"""Event intake: what the analysis role reports becomes incidents.

A START is routed (ground point, grid, triage, who is on duty) and recorded through the group-committing
EventWriter, opening an incident or folding into the open one with its dedup key; UPDATE and END refresh
the stored event; a clip joins its event's evidence. Messages of one event are handled in the order they
were reported, messages of different events concurrently (so events from many cameras share commits).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import asyncpg

from models.camera_events import CameraEventTable
from models.link import AnalysisMessage, CameraEventReport, ClipReport, EventReport, ZoneReport
from models.records import EventPhase, IncidentState
from models.store import TRANSIENT_DB_ERRORS, NotFound, StaleVersion, Store
from router.centre.bell import OutboxBell
from router.centre.camera_events import CameraEventHandler
from router.centre.retention import StorageGuard
from router.centre.routing import Routing
from router.centre.writer import EventWriter
from router.lifecycle import Action, transition
from router.pipeline import IncidentDraft

logger = logging.getLogger(__name__)

#: Why a clip is dropped rather than retried: its event is not stored, or the database is restarting.
_CLIP_DROPPED: tuple[type[BaseException], ...] = (NotFound, *TRANSIENT_DB_ERRORS)


class Intake:
    def __init__(
        self,
        routing: Routing,
        writer: EventWriter,
        store: Store,
        bell: OutboxBell,
        *,
        camera_events: CameraEventTable | None = None,
    ) -> None:
        self._routing = routing
        self._writer = writer
        self._store = store
        self._bell = bell
        #: Where the camera's answers on resolved incidents go (router/centre/verifier.py); None drops them.
        self.zone_reports: Callable[[ZoneReport], Awaitable[None]] | None = None
        #: The cameras' own events (ONVIF), looked up in the site's table; without one they are dropped.
        self.camera_events = (
            CameraEventHandler(camera_events, self.report, store, bell) if camera_events is not None else None
        )
        #: Raise, not drop, a clip (or an UPDATE or END) that cannot be stored now: a link that redelivers
        #: (api/nats) retries it.
        self.retry_clips = False
        #: Low on space (router/centre/retention.py): new clips are refused and counted; None: always stored.
        self.storage: StorageGuard | None = None
        #: Told when the database refuses a clip for lack of space, so clips pause before events suffer.
        self.on_disk_full: Callable[[str], Awaitable[None]] | None = None

    async def handle(self, message: AnalysisMessage) -> tuple[uuid.UUID, bool] | None:
        """Handle one message; for a START, (incident id, whether it was opened now)."""
        if isinstance(message, ClipReport):
            await self.attach_clip(message)
            return None
        if isinstance(message, ZoneReport):
            if self.zone_reports is not None:
                await self.zone_reports(message)
            return None
        if isinstance(message, CameraEventReport):
            return await self.camera_events.handle(message) if self.camera_events is not None else None
        return await self.report(message)

    async def report(self, report: EventReport) -> tuple[uuid.UUID, bool] | None:
        """Route a new event and record it; later phases of the same episode only refresh the stored event."""
        event = report.event
        if report.phase is not EventPhase.START:
            try:
                await self._writer.update(event.id, event.person_count, event.confidence, event.ended_at)
            except NotFound:
                if self.retry_clips:  # a redelivering link brings it back once its START is stored
                    raise
                logger.debug("%s of event %s, which is not stored", report.phase.value, event.id)
            return None
        draft = self._routing.route(event, at=event.started_at)
        incident_id, created = await self._writer.record(event, draft.opening(), report.evidence)
        if self._recorded(draft, incident_id, created):
            await self._file_waiting(incident_id, draft)
        self._bell.ring()
        return incident_id, created

    def _recorded(self, draft: IncidentDraft, incident_id: uuid.UUID, created: bool) -> bool:
        """Log a stored START; whether it folded into a case that may still wait for review to be filed."""
        logger.info(
            "%s incident %s: %s at %s → %s",
            "opened" if created else "updated",
            incident_id,
            draft.event.kind.value,
            draft.placement.unit_code,
            draft.duty.assignee.worker_id if draft.duty.assignee else "nobody",
        )
        return not created and draft.state is IncidentState.DISPATCHED and self._routing.reviews(draft.kind)

    async def _file_waiting(self, incident_id: uuid.UUID, draft: IncidentDraft) -> None:
        """A detection confident enough to be filed, folding into a case still waiting for review, files it
        as if the case had opened with it: to whoever is on duty, on deadlines from this event."""
        if (await self._store.incidents.get(incident_id)).state is not IncidentState.REPORTED:
            return
        entry = transition(
            incident_id,
            IncidentState.REPORTED,
            Action.FILE,
            "system:router",
            draft.opened_at,
            f"confidence {draft.event.confidence:.2f} reached file_above",
        )
        # StaleVersion: a reviewer filed or rejected it meanwhile, and theirs stands.
        with contextlib.suppress(StaleVersion):
            await self._store.incidents.apply(
                entry, handover=draft.duty.assignee, deadlines=dict(draft.opening().deadlines)
            )

    async def attach_clip(self, report: ClipReport) -> str | None:
        """Attach a finished clip to its event, recorded seconds earlier; the outbox row refreshes pages.

        A clip whose event was never stored (its routing failed) or that meets a restarting database is
        dropped with a warning: the event and its snapshots stand without it.
        """
        if self.storage is not None and self.storage.clips_paused:
            self.storage.dropped_clips += 1
            logger.warning("clip of event %s refused: storage low (%s)", report.event_id, self.storage.reason)
            return None
        try:
            evidence_id = await self._store.evidence.add(report.event_id, report.clip)
        except asyncpg.DiskFullError as exc:
            if self.storage is not None:
                self.storage.dropped_clips += 1
            detail = (str(exc) or "disk full").splitlines()[0]
            logger.error("clip of event %s refused by the database: %s", report.event_id, detail)
            if self.on_disk_full is not None:
                await self.on_disk_full(detail)
            return None
        except _CLIP_DROPPED as exc:
            if self.retry_clips:
                raise
            logger.warning("clip of event %s not stored: %s", report.event_id, exc)
            return None
        self._bell.ring()
        return evidence_id

    async def run_batches(
        self,
        batches: AsyncIterator[Sequence[AnalysisMessage]],
        *,
        settled: Callable[[AnalysisMessage, BaseException | None], Awaitable[None]],
    ) -> None:
        """Handle the messages a link hands in batches (a JetStream fetch, what has queued up in process)
        until the batches end.

        A batch is routed at once and stored in one group commit for its STARTs and one for its UPDATEs
        and ENDs; the next batch is fetched and routed meanwhile, and its STARTs are stored while this
        one's ENDs are. STARTs are stored batch after batch, and a batch's ENDs and clips only after its
        STARTs and the batch before it, so an END or clip never overtakes its START. Each message is
        settled once its batch is stored.
        One task and one commit per batch instead of a task and a future per message: that overhead was
        most of the centre's time at thousands of events a second (bench/stream_intake.py).
        """
        writing: asyncio.Task[None] | None = None
        finishing: collections.deque[asyncio.Task[None]] = collections.deque()
        try:
            async for messages in batches:
                batch = self._prepare(messages)
                if writing is not None:
                    await writing
                while len(finishing) >= 2:  # a slow database holds the fetches back, not memory
                    await finishing.popleft()
                writing = asyncio.create_task(self._write_starts(batch), name="intake-starts")
                before = finishing[-1] if finishing else None
                finishing.append(
                    asyncio.create_task(
                        self._finish_batch(batch, writing, before, settled), name="intake-rest"
                    )
                )
            while finishing:
                await finishing.popleft()
        finally:
            for task in (writing, *finishing):
                if task is not None and not task.done():
                    task.cancel()

    def _prepare(self, messages: Sequence[AnalysisMessage]) -> _Batch:
        batch = _Batch(list(messages))
        starts: list[tuple[int, EventReport]] = []
        for index, message in enumerate(batch.messages):
            if not isinstance(message, EventReport):
                batch.others.append(index)
            elif message.phase is not EventPhase.START:
                batch.updates.append((index, message))
            else:
                starts.append((index, message))
        try:
            drafts = self._routing.route_many([report.event for _, report in starts])
        except Exception as exc:  # nothing can be routed (the site is not loaded): each START fails
            drafts = [exc] * len(starts)
        for (index, report), draft in zip(starts, drafts, strict=True):
            if isinstance(draft, Exception):
                # This event cannot be routed; the others go on.
                logger.error("a START could not be routed (event %s): %s", report.event.id, draft)
                batch.errors[index] = draft
            else:
                batch.starts.append((index, report, draft))
        return batch

    async def _write_starts(self, batch: _Batch) -> None:
        """Store the batch's STARTs in one group commit; the next batch's go while this one's ENDs do."""
        if not batch.starts:
            return
        errors = batch.errors
        try:
            results = await self._writer.record_batch(
                [(report.event, draft.opening(), report.evidence) for _, report, draft in batch.starts]
            )
        except Exception as exc:  # record_batch answers event by event; this is a fault of ours
            logger.exception("a batch of %d events could not be stored", len(batch.starts))
            results = [exc] * len(batch.starts)
        filed: set[uuid.UUID] = set()
        for (index, report, draft), result in zip(batch.starts, results, strict=True):
            if isinstance(result, BaseException):
                logger.error("event %s not stored: %s", report.event.id, result)
                errors[index] = result
                continue
            incident_id, created = result
            # One look per incident and batch: the first of its events files it.
            if self._recorded(draft, incident_id, created) and incident_id not in filed:
                filed.add(incident_id)
                try:
                    await self._file_waiting(incident_id, draft)
                except Exception as exc:
                    logger.exception("incident %s could not be filed", incident_id)
                    errors[index] = exc
        self._bell.ring()

    async def _finish_batch(
        self,
        batch: _Batch,
        starts: asyncio.Task[None],
        before: asyncio.Task[None] | None,
        settled: Callable[[AnalysisMessage, BaseException | None], Awaitable[None]],
    ) -> None:
        """The batch's UPDATEs, ENDs, clips and the rest, once its STARTs (and so every earlier batch's) are
        stored and the batch before it is finished; then every message of the batch is settled."""
        errors = batch.errors
        failure: BaseException | None = None
        try:
            await starts
            if before is not None:
                await before
            if batch.updates:
                found = await self._writer.update_batch(
                    [
                        (r.event.id, r.event.person_count, r.event.confidence, r.event.ended_at)
                        for _, r in batch.updates
                    ]
                )
                for (index, report), stored in zip(batch.updates, found, strict=True):
                    if isinstance(stored, BaseException):
                        errors[index] = stored
                    elif not stored:
                        logger.debug(
                            "%s of event %s, which is not stored", report.phase.value, report.event.id
                        )
                        if self.retry_clips:  # a redelivering link brings it back once its START is stored
                            errors[index] = NotFound(f"no event {report.event.id}")
            for index in batch.others:
                try:
                    await self.handle(batch.messages[index])
                except Exception as exc:  # one message's failure must not stop the others
                    logger.exception("a %s could not be handled", type(batch.messages[index]).__name__)
                    errors[index] = exc
        except Exception as exc:  # a fault of ours: logged, the batch settled with it, the intake goes on
            logger.exception("a batch of %d messages could not be finished", len(batch.messages))
            failure = exc
        except BaseException as exc:
            # Cancelled half-way: settled as unhandled, which a link neither acks nor naks.
            failure = exc
            raise
        finally:
            for index, message in enumerate(batch.messages):
                await settled(message, errors.get(index, failure))


@dataclass
class _Batch:
    """One batch as ``run_batches`` stores it: its STARTs routed, its UPDATEs and ENDs, the rest by index."""

    messages: list[AnalysisMessage]
    starts: list[tuple[int, EventReport, IncidentDraft]] = field(default_factory=list)
    updates: list[tuple[int, EventReport]] = field(default_factory=list)
    others: list[int] = field(default_factory=list)
    errors: dict[int, BaseException] = field(default_factory=dict)
