"""Talk to one ONVIF device: clock, identity, services, media profiles, stream and snapshot URIs, PTZ.

Each step is one narrow try around one call. A failure of an essential step (login, device
information, profiles) ends the onboarding with a Failure; a failure of an optional one (snapshot
URI, PTZ presets) becomes a warning, because plenty of cameras stream fine without those.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from onvif import ONVIFCamera

from ingest.onvif.errors import CALL_ERRORS, classify
from ingest.onvif.models import (
    Credentials,
    DeviceInfo,
    DeviceReport,
    DeviceTarget,
    Failure,
    MediaProfile,
    PtzPreset,
)
from models.clock import Clock

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: WS-UsernameToken timestamps are checked against the camera's clock; many cameras refuse a token
#: more than a few seconds off, so beyond this skew every signed call is adjusted by it.
SKEW_ADJUST_S = 5.0
#: One ONVIF round trip; cameras on a site LAN answer in milliseconds, a busy NVR in a second or two.
CALL_TIMEOUT_S = 10.0

NS_MEDIA = "http://www.onvif.org/ver10/media/wsdl"
NS_PTZ = "http://www.onvif.org/ver20/ptz/wsdl"
NS_EVENTS = "http://www.onvif.org/ver10/events/wsdl"

_STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}


class StepFailed(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(str(failure))
        self.failure = failure


def _camera_time(answer: Any) -> datetime | None:
    utc = getattr(answer, "UTCDateTime", None)
    if utc is None:
        return None
    d, t = utc.Date, utc.Time
    return datetime(d.Year, d.Month, d.Day, t.Hour, t.Minute, t.Second, tzinfo=UTC)


def _profile_value(profile: Any, *path: str) -> Any:
    node = profile
    for name in path:
        node = getattr(node, name, None)
        if node is None:
            return None
    return node


class OnvifDevice:
    """An open session with one device. Use ``async with OnvifDevice(target, creds) as d``."""

    def __init__(
        self,
        target: DeviceTarget,
        credentials: Credentials | None,
        *,
        clock: Clock,
        timeout_s: float = CALL_TIMEOUT_S,
    ) -> None:
        self.target = target
        self._clock = clock
        self._timeout_s = timeout_s
        # Without credentials the library still signs with an empty token; None would crash it.
        user = credentials.user if credentials else ""
        password = credentials.password if credentials else ""
        self.camera = ONVIFCamera(target.host, target.port, user, password)
        self._warnings: list[str] = []

    async def __aenter__(self) -> OnvifDevice:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.camera.close()

    async def _call(self, step: str, call: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(call, self._timeout_s)
        except CALL_ERRORS as exc:
            failure = classify(exc, step)
            logger.debug("onvif %s: %s failed: %s", self.target.address, step, failure)
            raise StepFailed(failure) from None

    async def _optional(self, step: str, call: Awaitable[T]) -> T | None:
        try:
            return await self._call(step, call)
        except StepFailed as exc:
            self._warnings.append(str(exc.failure))
            return None

    async def clock_skew(self) -> float | None:
        """Seconds the camera's clock runs ahead of ours; adjusts later signed calls when large."""
        devicemgmt = await self.camera.create_devicemgmt_service()
        try:
            # Real cameras answer GetSystemDateAndTime without a login, precisely so clients can fix skew.
            answer = await asyncio.wait_for(devicemgmt.authless_GetSystemDateAndTime(), self._timeout_s)
        except CALL_ERRORS:
            answer = await self._call("GetSystemDateAndTime", devicemgmt.GetSystemDateAndTime())
        camera_now = _camera_time(answer)
        if camera_now is None:
            self._warnings.append("GetSystemDateAndTime: the device gave no UTC time")
            return None
        skew = (camera_now - self._clock.now()).total_seconds()
        if abs(skew) > SKEW_ADJUST_S:
            logger.warning("onvif %s: camera clock is %+.0f s off; compensating", self.target.address, skew)
            self.camera.dt_diff = timedelta(seconds=skew)
            await devicemgmt.close()
            del self.camera.services[devicemgmt.binding_key]
        return skew

    async def device_info(self) -> DeviceInfo:
        devicemgmt = await self.camera.create_devicemgmt_service()
        info = await self._call("GetDeviceInformation", devicemgmt.GetDeviceInformation())
        return DeviceInfo(
            manufacturer=str(info.Manufacturer or ""),
            model=str(info.Model or ""),
            firmware=str(info.FirmwareVersion or ""),
            serial=str(info.SerialNumber or ""),
            hardware_id=str(info.HardwareId or ""),
        )

    async def services(self) -> tuple[str, ...]:
        """Namespaces of the services the device offers (GetServices, or GetCapabilities on old ones)."""
        await self._call("GetServices/GetCapabilities", self.camera.update_xaddrs())
        return tuple(sorted(self.camera.xaddrs))

    async def profiles(self) -> tuple[MediaProfile, ...]:
        media = await self.camera.create_media_service()
        answer = await self._call("GetProfiles", media.GetProfiles())
        found: list[MediaProfile] = []
        for profile in answer or []:
            token = str(profile.token)
            request = {"StreamSetup": _STREAM_SETUP, "ProfileToken": token}
            stream = await self._optional(f"GetStreamUri({token})", media.GetStreamUri(request))
            snapshot = await self._optional(
                f"GetSnapshotUri({token})", media.GetSnapshotUri({"ProfileToken": token})
            )
            encoder = getattr(profile, "VideoEncoderConfiguration", None)
            encoding = _profile_value(encoder, "Encoding")
            gop = _profile_value(encoder, "H264", "GovLength")
            found.append(
                MediaProfile(
                    token=token,
                    name=str(getattr(profile, "Name", "") or token),
                    encoding=str(encoding) if encoding else None,
                    width=_profile_value(encoder, "Resolution", "Width"),
                    height=_profile_value(encoder, "Resolution", "Height"),
                    fps=_profile_value(encoder, "RateControl", "FrameRateLimit"),
                    gop=int(gop) if gop else None,
                    stream_uri=str(stream.Uri) if stream is not None and stream.Uri else None,
                    snapshot_uri=str(snapshot.Uri) if snapshot is not None and snapshot.Uri else None,
                )
            )
        return tuple(found)

    async def presets(self, profile_token: str) -> tuple[PtzPreset, ...]:
        ptz = await self.camera.create_ptz_service()
        answer = await self._optional("GetPresets", ptz.GetPresets({"ProfileToken": profile_token}))
        return tuple(PtzPreset(str(p.token), str(getattr(p, "Name", "") or p.token)) for p in answer or [])

    async def goto_preset(self, profile_token: str, preset_token: str) -> None:
        if not self.camera.xaddrs:
            await self.services()
        ptz = await self.camera.create_ptz_service()
        await self._call(
            "GotoPreset", ptz.GotoPreset({"ProfileToken": profile_token, "PresetToken": preset_token})
        )

    async def probe(self) -> DeviceReport:
        """Run every onboarding step; never raises for a device-side problem."""
        target = self.target
        checked_at = self._clock.now()
        skew: float | None = None
        info: DeviceInfo | None = None
        services: tuple[str, ...] = ()
        profiles: tuple[MediaProfile, ...] = ()
        presets: tuple[PtzPreset, ...] = ()
        try:
            skew = await self.clock_skew()
            info = await self.device_info()
            services = await self.services()
            if NS_MEDIA not in services:
                raise StepFailed(classify(ValueError("the device offers no media service"), "GetServices"))
            profiles = await self.profiles()
            if NS_PTZ in services and profiles:
                presets = await self.presets(profiles[0].token)
        except StepFailed as exc:
            logger.info("onvif %s: onboarding stopped: %s", target.address, exc.failure)
            return DeviceReport(
                target, checked_at, skew, info, services, profiles, presets,
                has_ptz=NS_PTZ in services, has_events=NS_EVENTS in services,
                failure=exc.failure, warnings=tuple(self._warnings),
            )  # fmt: skip
        return DeviceReport(
            target, checked_at, skew, info, services, profiles, presets,
            has_ptz=NS_PTZ in services, has_events=NS_EVENTS in services, warnings=tuple(self._warnings),
        )  # fmt: skip


async def probe_device(
    target: DeviceTarget, credentials: Credentials | None, *, clock: Clock, timeout_s: float = CALL_TIMEOUT_S
) -> DeviceReport:
    async with OnvifDevice(target, credentials, clock=clock, timeout_s=timeout_s) as device:
        return await device.probe()
