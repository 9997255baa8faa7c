"""The analysis role: each camera's frames → batched detectors → tracker and zone rules → event reports.

An AnalysisNode runs one loop per enabled camera and publishes what the rules see into an EventSink (the
one interface to the centre, models/link.py). It knows nothing of grids, rosters or the database; the
centre tells it which cameras to run (RunCamera, StopCamera) and routes what it reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from detect.analysis.analyzer import CameraAnalyzer
from detect.analysis.batcher import DetectionBatcher
from detect.analysis.camera_events import CameraEventFeed
from detect.analysis.clip_encoder import ClipEncoder
from detect.analysis.clips import POST_SECONDS, PRE_SECONDS, ClipRecorder
from detect.analysis.live import LiveView
from detect.analysis.suppression import Suppressions
from detect.analysis.watch import Watches
from detect.rules import Model, Phase
from detect.rules.fire import FIRE_EVERY_SECONDS
from ingest.frames import Frame
from ingest.offline import OfflineWatch
from ingest.sources import Opener, open_source
from models.clock import Clock
from models.link import (
    CameraCommand,
    EventReport,
    EventSink,
    RunCamera,
    StopCamera,
    SuppressRegion,
    WatchZone,
    ZoneReport,
)
from models.records import Camera, Detection
from models.secrets import expand_source

logger = logging.getLogger(__name__)

#: Seconds between checks of every camera's health against the offline tolerance.
OFFLINE_CHECK_PERIOD_S = 10.0


class AnalysisNode:
    """Runs cameras; implements CommandSink, so the centre (or a test) starts and stops them by command."""

    def __init__(
        self,
        sink: EventSink,
        batcher: DetectionBatcher,
        clock: Clock,
        *,
        offline: OfflineWatch,
        clips: ClipEncoder | None = None,
        clip_seconds: tuple[float, float] = (PRE_SECONDS, POST_SECONDS),
        fire_batcher: DetectionBatcher | None = None,
        fire_every_s: float = FIRE_EVERY_SECONDS,
        fire_every_s_by_camera: Mapping[str, float] | None = None,
        camera_events: CameraEventFeed | None = None,
    ) -> None:
        self._sink = sink
        self.batcher = batcher
        # The fire model has its own batcher and worker thread: a person batch never queues behind the
        # slower two-scale fire model, which sees only the fire-zone cameras' due frames.
        self.fire_batcher = fire_batcher
        self._clock = clock
        self._offline = offline
        self.clips = clips
        self._clip_seconds = clip_seconds
        self._fire_every_s = fire_every_s
        self._fire_every_s_by_camera = dict(fire_every_s_by_camera or {})
        self.cameras: dict[str, Camera] = {}
        self.live: dict[str, LiveView] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._watch: asyncio.Task[None] | None = None
        #: Resolved incidents whose zone rule this node judges for the centre (camera-verified closure).
        self.watches = Watches()
        #: Regions of dismissed fire/smoke false alarms, per camera (``SuppressRegion``).
        self.suppressions = Suppressions()
        #: The cameras' own ONVIF events, subscribed while their cameras run.
        self.camera_events = camera_events
        #: Sources of schemes other modules open (``gb28181://`` channels), set by the wiring.
        self.source_openers: dict[str, Opener] = {}

    # --- running ------------------------------------------------------------------------------------

    async def start(self, cameras: Iterable[Camera]) -> None:
        self.batcher.start()
        if self.fire_batcher is not None:
            self.fire_batcher.start()
        for camera in cameras:
            await self.send(RunCamera(camera))
        self._watch = asyncio.create_task(self._watch_offline(), name="offline-watch")

    async def send(self, command: CameraCommand) -> None:
        """Start, restart (with its new record) or stop one camera; the others run on."""
        if isinstance(command, RunCamera):
            camera = command.camera
            await self._stop_camera(camera.id)
            self.cameras[camera.id] = camera
            if camera.enabled:
                self._tasks[camera.id] = asyncio.create_task(
                    self._camera_loop(camera), name=f"camera:{camera.id}"
                )
                if self.camera_events is not None:
                    self.camera_events.start(camera)
            await self._answer(self.watches.restarted(camera, self._clock.now()))
        elif isinstance(command, StopCamera):
            await self._stop_camera(command.camera_id)
            self.cameras.pop(command.camera_id, None)
            await self._answer(
                self.watches.lost(command.camera_id, self._clock.now(), "the camera was stopped")
            )
        elif isinstance(command, WatchZone):
            known = self.cameras.get(command.camera_id)
            await self._answer(self.watches.add(command, known, self._clock.now()))
        elif isinstance(command, SuppressRegion):
            self.suppressions.add(command)
            logger.info(
                "camera %s: %s boxes in %s ignored until %s (incident %s rejected as a false alarm)",
                command.camera_id,
                "/".join(command.kinds),
                [round(v) for v in command.box],
                command.until.isoformat(),
                command.incident_id,
            )

    async def _answer(self, answers: list[ZoneReport]) -> None:
        for answer in answers:
            await self._sink.publish(answer)

    @property
    def running(self) -> frozenset[str]:
        """Ids of the cameras whose loops run now."""
        return frozenset(self._tasks)

    async def stop(self) -> None:
        """Stop every camera, then settle their clips: the last clips still reach the centre."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        for camera_id in list(self._tasks):
            await self._stop_camera(camera_id)
        if self.camera_events is not None:
            await self.camera_events.aclose()
        if self.clips is not None:
            await self.clips.aclose()
        await self.batcher.aclose()
        if self.fire_batcher is not None:
            await self.fire_batcher.aclose()

    async def _stop_camera(self, camera_id: str) -> None:
        task = self._tasks.pop(camera_id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.live.pop(camera_id, None)
        self._offline.forget(camera_id)
        if self.camera_events is not None:
            await self.camera_events.stop(camera_id)

    def clip_recorder(self, camera: Camera) -> ClipRecorder | None:
        """The camera's clip buffer as the site configured clips, or None when clips are off."""
        if self.clips is None:
            return None
        return ClipRecorder.for_camera(camera, *self._clip_seconds)

    async def _camera_loop(self, camera: Camera) -> None:
        analyzer = CameraAnalyzer(
            camera, clips=self.clip_recorder(camera) or False, suppressions=self.suppressions
        )
        view = self.live.setdefault(camera.id, LiveView())
        period = 1.0 / camera.analysis_fps if camera.analysis_fps > 0 else 1.0
        while True:
            try:
                # Secrets stay placeholders everywhere but here, at the moment of connecting.
                live = replace(camera, source=expand_source(camera.source, os.environ))
                source = open_source(live, self._clock, self.source_openers)
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

    # --- one frame ----------------------------------------------------------------------------------

    async def analyse(
        self, camera: Camera, analyzer: CameraAnalyzer, frame: Frame, view: LiveView
    ) -> list[EventReport]:
        """Detect, track and apply the camera's rules to one frame; publish and return what they report."""
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
        reports = await asyncio.to_thread(
            partial(analyzer.analyze, ran=ran), detections, frame.image, frame.captured_at
        )
        view.detections = list(detections)
        view.analysed_at = time.monotonic()
        view.analysed_frames += 1
        for report in reports:
            view.events += 1
            await self._sink.publish(report)
        # After publishing: a clip's event START is ahead of it in the sink, even one whose clip finished at
        # once.
        if self.clips is not None:
            for job in analyzer.take_clip_jobs():
                self.clips.submit(job)
        if self.watches.on(camera.id):
            await self._answer(
                await self.watches.judge(
                    camera, analyzer, frame.image, frame.captured_at, detections, reports
                )
            )
        return reports

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

    # --- camera health ------------------------------------------------------------------------------

    async def check_offline(self) -> list[EventReport]:
        """Report a CAMERA_OFFLINE event for each camera down longer than the tolerance (once per outage)."""
        reports: list[EventReport] = []
        for camera_id, view in list(self.live.items()):
            if view.source is None:
                continue
            health = view.source.health
            event = self._offline.check(camera_id, health.state, health.since, self._clock.now())
            if event is not None:
                report = EventReport(Phase.START, event)
                await self._sink.publish(report)
                reports.append(report)
                await self._answer(self.watches.lost(camera_id, event.started_at, "the camera went offline"))
        return reports

    async def _watch_offline(self) -> None:
        while True:
            await asyncio.sleep(OFFLINE_CHECK_PERIOD_S)
            try:
                await self.check_offline()
            except Exception:  # the watch must outlive one failed check
                logger.exception("offline check failed")

    def status(self, camera_id: str) -> dict[str, Any]:
        view = self.live.get(camera_id)
        status = (view or LiveView()).status()
        events = self.camera_events.status(camera_id) if self.camera_events is not None else None
        if events is not None:
            status["camera_events"] = events
            if events["reason"]:
                status["reasons"] = [*status.get("reasons", ()), f"camera events: {events['reason']}"]
        return status
