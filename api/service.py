"""The running service: cameras → detector → rules → router → store → live feed, in one asyncio process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from api.batcher import BatchDetector, DetectionBatcher
from api.escalator import Escalator
from api.event_writer import EventWriter
from api.feed import Broadcaster, Message, OutboxRelay
from api.notifier import Notifier
from detect.analyzer import AnalyzerOutput, CameraAnalyzer
from detect.clips import POST_SECONDS, PRE_SECONDS, Clip, ClipJob, ClipRecorder
from detect.rules import Model, Phase
from detect.rules.fire import FIRE_EVERY_SECONDS
from ingest.frames import Frame
from ingest.offline import OfflineWatch
from ingest.sources import open_source
from models.clock import Clock
from models.config import expand_source
from models.records import Camera, Detection
from models.store import TRANSIENT_DB_ERRORS, EvidenceBlob, IncidentOpening, NotFound, Store
from router.crs import haversine_m
from router.duty import Roster
from router.escalation import DEFAULT_POLICY
from router.geo import Homography, OffGroundError, camera_homography
from router.grids import GridIndex
from router.pipeline import DEFAULT_MAX_GROUND_RANGE_M, IncidentDraft, Router
from router.triage import DEFAULT_TABLE, TriageTable

logger = logging.getLogger(__name__)

#: Clips waiting for the clip thread; past this (the thread cannot keep up) new clips are dropped, logged.
MAX_CLIP_BACKLOG = 64


def _lower_priority() -> None:
    """Make the calling thread yield the CPU to analysis (Linux: a thread id is a process id here)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


@dataclass
class LiveView:
    """The newest analysed picture of a camera, for the wall and the MJPEG stream."""

    frame: Frame | None = None
    detections: list[Detection] = field(default_factory=list)
    analysed_at: float = 0.0
    analysed_frames: int = 0
    events: int = 0
    source: Any = None


def camera_coverage(
    camera: Camera, homography: Homography | None, grids: GridIndex, steps: int = 8
) -> frozenset[str]:
    """The units whose ground the camera sees: its mount's unit plus every grid under a pixel lattice."""
    codes = {grids.locate(camera.mount.lonlat).unit_code}
    if homography is not None:
        width, height = camera.frame_size
        for i in range(steps + 1):
            for j in range(steps + 1):
                try:
                    ground = homography.to_ground((width * i / steps, height * j / steps))
                except OffGroundError:
                    continue
                if haversine_m(ground, camera.mount.lonlat) <= DEFAULT_MAX_GROUND_RANGE_M:
                    codes.add(grids.locate(ground).unit_code)
    return frozenset(codes)


def opening_from_draft(draft: IncidentDraft) -> IncidentOpening:
    assignee = draft.duty.assignee
    return IncidentOpening(
        kind=draft.kind,
        severity=draft.triage.severity,
        tier=draft.triage.tier,
        department=draft.triage.department,
        category_code=draft.triage.category_code,
        unit_code=draft.placement.unit_code,
        grid_code=draft.placement.grid_code,
        grid_match=draft.placement.grid_match.value,
        chain=draft.placement.chain,
        lonlat=draft.placement.lonlat,
        located_by=draft.placement.located_by,
        camera_id=draft.camera_id,
        dedup_key=draft.dedup_key,
        title=draft.title,
        at=draft.opened_at,
        accept_by=draft.accept_by,
        assignee_id=assignee.worker_id if assignee else None,
        assignee_name=assignee.name if assignee else None,
        assignee_phone=assignee.phone if assignee else None,
        ground_points=draft.ground_points,
        duty={
            "on_duty": [a.worker_id for a in draft.duty.on_duty],
            "role": assignee.role.value if assignee else None,
            "tried": [[role.value, unit, found] for role, unit, found in draft.duty.tried],
        },
        deadlines=DEFAULT_POLICY.timer_deadlines(draft.triage.severity, draft.opened_at, draft.accept_by),
    )


class Service:
    def __init__(
        self,
        store: Store,
        detector: BatchDetector,
        clock: Clock,
        *,
        timezone: str = "Asia/Shanghai",
        triage: TriageTable | None = None,
        offline_after_s: float = 300.0,
        fire_detector: BatchDetector | None = None,
        fire_every_s: float = FIRE_EVERY_SECONDS,
        fire_every_s_by_camera: Mapping[str, float] | None = None,
        clip_seconds: tuple[float, float] | None = (PRE_SECONDS, POST_SECONDS),
    ) -> None:
        self.store = store
        self.clock = clock
        self.timezone = timezone
        self.batcher = DetectionBatcher(detector)
        # The fire model has its own batcher and worker thread: a person batch never queues behind the
        # slower two-scale fire model, which sees only the fire-zone cameras' due frames.
        self.fire_batcher = DetectionBatcher(fire_detector) if fire_detector is not None else None
        self._fire_every_s = fire_every_s
        self._fire_every_s_by_camera = dict(fire_every_s_by_camera or {})
        self._clip_seconds = clip_seconds
        self.broadcaster = Broadcaster()
        self.relay = OutboxRelay(store, self.broadcaster, self._render_outbox)
        # Every camera's events share commits: one WAL flush per group, not per event.
        self.writer = EventWriter(store)
        self._triage = triage or DEFAULT_TABLE
        self.router: Router | None = None
        self.cameras: dict[str, Camera] = {}
        #: Unit codes each camera's picture covers: who may watch it.
        self.camera_units: dict[str, frozenset[str]] = {}
        self.live: dict[str, LiveView] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._relay_task: asyncio.Task[None] | None = None
        # Deadlines fire from the database; notifications leave through the channels the runner sets.
        self.escalator = Escalator(store, clock, self._current_roster, on_fired=lambda _: self.wake_outbox())
        self.notifier: Notifier | None = None
        self._router_tasks: list[asyncio.Task[None]] = []
        self._clip_pool: ThreadPoolExecutor | None = None
        self._clip_tasks: set[asyncio.Task[None]] = set()
        self.offline_watch = OfflineWatch(offline_after_s)
        self.started_at = time.monotonic()

    async def load(self) -> None:
        """(Re)build the router from what the database holds: grids, roster and cameras."""
        grids = GridIndex(await self.store.load_grids())
        roster = Roster(await self.store.load_roster(), tz=self.timezone)
        cameras = {c.id: c for c in await self.store.load_cameras()}
        homographies: dict[str, Homography | None] = {cid: camera_homography(c) for cid, c in cameras.items()}
        self.router = Router(grids, roster, homographies, cameras, self._triage)
        self.cameras = cameras
        self.camera_units = {cid: camera_coverage(c, homographies[cid], grids) for cid, c in cameras.items()}

    async def reload_roster(self) -> None:
        """Roster changes apply without a restart."""
        if self.router is not None:
            self.router.roster = Roster(await self.store.load_roster(), tz=self.timezone)

    async def start(self) -> None:
        await self.load()
        self.batcher.start()
        self.writer.start()
        self._relay_task = asyncio.create_task(self.relay.run(), name="outbox-relay")
        self._router_tasks.append(asyncio.create_task(self.escalator.run(), name="escalator"))
        if self.notifier is not None:
            self._router_tasks.append(asyncio.create_task(self.notifier.run(), name="notifier"))
        self._router_tasks.append(asyncio.create_task(self._watch_offline(), name="offline-watch"))
        for camera in self.cameras.values():
            if camera.enabled:
                self._tasks[camera.id] = asyncio.create_task(
                    self._camera_loop(camera), name=f"camera:{camera.id}"
                )

    async def stop(self) -> None:
        tasks = [
            *self._tasks.values(),
            *([self._relay_task] if self._relay_task else []),
            *self._router_tasks,
        ]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._router_tasks.clear()
        await self.settle_clips()  # the cameras have stopped: their last clips still reach the database
        if self._clip_pool is not None:
            self._clip_pool.shutdown()
            self._clip_pool = None
        if self.notifier is not None:
            await self.notifier.aclose()
        await self.batcher.aclose()
        if self.fire_batcher is not None:
            await self.fire_batcher.aclose()
        await self.writer.aclose()

    async def check_offline(self) -> list[uuid.UUID]:
        """Open a maintenance incident for each camera down longer than the tolerance (once per outage)."""
        opened: list[uuid.UUID] = []
        for camera_id, view in list(self.live.items()):
            health = getattr(view.source, "health", None)
            if health is None:
                continue
            event = self.offline_watch.check(camera_id, health.state, health.since, self.clock.now())
            if event is not None:
                result = await self.handle(AnalyzerOutput(Phase.START, event))
                if result is not None and result[1]:
                    opened.append(result[0])
        return opened

    async def _watch_offline(self, period_s: float = 10.0) -> None:
        while True:
            await asyncio.sleep(period_s)
            try:
                await self.check_offline()
            except Exception:  # the watch must outlive one failed routing
                logger.exception("offline check failed")

    def clip_recorder(self, camera: Camera) -> ClipRecorder | None:
        """The camera's clip buffer as the site configured clips, or None when clips are off."""
        if self._clip_seconds is None:
            return None
        return ClipRecorder.for_camera(camera, *self._clip_seconds)

    async def _camera_loop(self, camera: Camera) -> None:
        analyzer = CameraAnalyzer(camera, clips=self.clip_recorder(camera) or False)
        view = self.live.setdefault(camera.id, LiveView())
        period = 1.0 / camera.analysis_fps if camera.analysis_fps > 0 else 1.0
        while True:
            try:
                # Secrets stay placeholders everywhere but here, at the moment of connecting.
                live = replace(camera, source=expand_source(camera.source, os.environ))
                source = open_source(live, self.clock)
            except (KeyError, ValueError) as exc:
                logger.error("camera %s cannot be opened: %s", camera.id, exc)
                return
            view.source = source
            try:
                next_due = 0.0
                async for frame in source.frames():
                    view.frame = frame
                    now = time.monotonic()
                    if now < next_due:
                        continue
                    next_due = now + period
                    await self.analyse(camera, analyzer, frame, view)
            except asyncio.CancelledError:
                await source.aclose()
                raise
            except Exception:  # one camera's failure must not stop the others
                logger.exception("camera %s loop failed; restarting in 2 s", camera.id)
                await source.aclose()
                await asyncio.sleep(2.0)

    async def analyse(
        self, camera: Camera, analyzer: CameraAnalyzer, frame: Frame, view: LiveView
    ) -> list[uuid.UUID]:
        ran = {Model.PERSON}
        if self.fire_due(camera, analyzer, view.analysed_frames):
            person, fire = await asyncio.gather(
                self.batcher.detect(frame.image), self._detect_fire(camera, frame)
            )
            detections = [*person, *(fire or ())]
            if fire is not None:
                ran.add(Model.FIRE)
        else:
            detections = await self.batcher.detect(frame.image)
        # Tracking, rules and JPEG evidence cost milliseconds per frame: keep them off the event loop.
        outputs = await asyncio.to_thread(
            partial(analyzer.analyze, ran=ran), detections, frame.image, frame.captured_at
        )
        view.detections = list(detections)
        view.analysed_at = time.monotonic()
        view.analysed_frames += 1
        opened: list[uuid.UUID] = []
        for output in outputs:
            view.events += 1
            result = await self.handle(output)
            if result is not None and result[1]:
                opened.append(result[0])
        # After handling: a clip's event START is recorded by now, even one whose clip finished at once.
        for job in analyzer.take_clip_jobs():
            self._queue_clip(job)
        return opened

    def _queue_clip(self, job: ClipJob) -> None:
        if len(self._clip_tasks) >= MAX_CLIP_BACKLOG:
            logger.warning("clip of event %s dropped: %d clips waiting to be encoded", job.events[0][0],
                           len(self._clip_tasks))  # fmt: skip
            return
        task = asyncio.create_task(self._encode_and_store(job), name=f"clip:{job.events[0][0]}")
        self._clip_tasks.add(task)
        task.add_done_callback(self._clip_tasks.discard)

    async def _encode_and_store(self, job: ClipJob) -> None:
        if self._clip_pool is None:
            # One low-priority thread for every camera's clips: a burst of clips (every camera crowding at
            # once) takes at most one core, and only what decoding and detection leave idle.
            self._clip_pool = ThreadPoolExecutor(1, thread_name_prefix="clips", initializer=_lower_priority)
        clips = await asyncio.get_running_loop().run_in_executor(self._clip_pool, job.encode)
        for clip in clips:
            await self.store_clip(clip)

    async def settle_clips(self) -> None:
        """Return once every clip handed over so far is encoded and stored (or dropped)."""
        while self._clip_tasks:
            await asyncio.gather(*self._clip_tasks, return_exceptions=True)

    def fire_stride(self, camera: Camera) -> int:
        """Every how many analysed frames the fire model looks at this camera (1: every frame)."""
        every_s = self._fire_every_s_by_camera.get(camera.id, self._fire_every_s)
        return max(1, round(every_s * camera.analysis_fps))

    def fire_due(self, camera: Camera, analyzer: CameraAnalyzer, analysed_frames: int) -> bool:
        """Whether the fire model should see this frame: only cameras with a fire zone, every stride-th."""
        return (
            self.fire_batcher is not None
            and Model.FIRE in analyzer.models
            and analysed_frames % self.fire_stride(camera) == 0
        )

    async def _detect_fire(self, camera: Camera, frame: Frame) -> list[Detection] | None:
        """The fire model's boxes, or None when it failed: the frame then counts as one it did not see."""
        assert self.fire_batcher is not None
        try:
            return await self.fire_batcher.detect(frame.image)
        except Exception as exc:  # a broken fire model must not blind the camera's person rules
            logger.warning("fire model failed on camera %s frame %s: %s", camera.id, frame.index, exc)
            return None

    async def handle(self, output: AnalyzerOutput) -> tuple[uuid.UUID, bool] | None:
        """Route a new event and record it (open an incident or attach to the open one).

        Later phases of the same episode (UPDATE, END) only refresh the stored event.
        """
        event = output.event
        if output.phase is not Phase.START:
            await self.store.update_event(event.id, event.person_count, event.confidence, event.ended_at)
            return None
        if self.router is None:
            raise RuntimeError("service not loaded")
        draft = self.router.route(event, at=event.started_at)
        blobs = [
            EvidenceBlob(role, meta.media_type, meta.sha256, data)
            for role, meta, data in zip(
                ("snapshot", "clean"), event.evidence, (output.snapshot_jpeg, output.clean_jpeg), strict=False
            )
            if data is not None
        ]
        incident_id, created = await self.writer.record(event, opening_from_draft(draft), blobs)
        logger.info(
            "%s incident %s: %s at %s → %s",
            "opened" if created else "updated",
            incident_id,
            event.kind.value,
            draft.placement.unit_code,
            draft.duty.assignee.worker_id if draft.duty.assignee else "nobody",
        )
        self.wake_outbox()
        return incident_id, created

    async def store_clip(self, clip: Clip) -> str | None:
        """Attach a finished clip to its event, recorded seconds earlier; the outbox row refreshes pages.

        A clip whose event was never stored (its routing failed) or that meets a restarting database is
        dropped with a warning: the event and its snapshots stand without it, and the camera goes on.
        """
        blob = EvidenceBlob("clip", clip.media_type, clip.sha256, clip.data)
        try:
            evidence_id = await self.store.add_evidence(clip.event_id, blob)
        except (NotFound, *TRANSIENT_DB_ERRORS) as exc:
            logger.warning("clip of event %s not stored: %s", clip.event_id, exc)
            return None
        self.wake_outbox()
        return evidence_id

    def _current_roster(self) -> Roster | None:
        return self.router.roster if self.router is not None else None

    def wake_outbox(self) -> None:
        self.relay.wake()
        if self.notifier is not None:
            self.notifier.wake()

    async def _render_outbox(self, row: dict[str, Any]) -> Message | None:
        from api.schemas import incident_json  # late: schemas import FastAPI-side helpers

        if row["incident_id"] is None:
            return None
        incident = await self.store.get_incident_row(row["incident_id"])
        return {"type": row["topic"], "outbox_id": row["id"], "incident": incident_json(incident)}

    def camera_status(self, camera_id: str) -> dict[str, Any]:
        view = self.live.get(camera_id)
        health = getattr(view.source, "health", None) if view else None
        return {
            "state": str(getattr(health, "state", "connecting")),
            "reason": getattr(health, "reason", None),
            "fps": getattr(health, "fps", None),
            "last_frame_at": getattr(health, "last_frame_at", None),
            "analysed_frames": view.analysed_frames if view else 0,
            "events": view.events if view else 0,
            "detections": len(view.detections) if view else 0,
        }

    async def add_camera(self, camera: Camera) -> None:
        """Start (or restart with its new record) one camera, already saved to the store; others run on."""
        await self.remove_camera(camera.id)
        if camera.enabled:
            task = asyncio.create_task(self._camera_loop(camera), name=f"camera:{camera.id}")
            self._tasks[camera.id] = task

    async def remove_camera(self, camera_id: str) -> None:
        """Stop one camera's task and forget its live view, then reload what the store holds."""
        task = self._tasks.pop(camera_id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.live.pop(camera_id, None)
        self.offline_watch.forget(camera_id)
        # The router's homographies, coverage and camera table come from the store; rebuilding them
        # is cheap next to a camera's connect time.
        await self.load()
