"""Occupation items of ``gridwatch eval --occupation``: real video, a real object set down at a fixed place.

The public set has no video of goods being set down, so each positive scene composites a patch cut from a
real street photograph (goods and vehicles of ``occupation/``) into real footage from ``t = appear_s`` on.
The expected event: exactly one occupation START in the zone, between ``appear_s + T`` and
``appear_s + T + LATE_S``. Negative scenes are the same footage with nothing set down (people merely
passing, and on the tuning street a ±40 % brightness swing): any START there is a false event.

Short clips are played forwards then backwards (ping-pong) to last ``SCENE_S``, so walkers keep passing.
Scenes are split like the rest of the set, and a scene whose results were looked at while choosing the
rule's thresholds is a tuning scene: vtest from the start, the first crosswalk and plaza scenes since their
results were read. The held-out scenes are written down before they are first run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from detect.evaluation.dataset import Split
from detect.evaluation.observe import ANALYSIS_FPS, _video_frames
from detect.port import Detector
from detect.rules import OccupationRule, Phase
from detect.static_mass import StaticMass
from models.records import Detection, StaticMassSettings, Zone, ZoneKind

T_S = 30.0
APPEAR_S = 10.0
SCENE_S = 75.0
#: When a turning scene's camera turns.
TURN_AT_S = 30.0
#: How late after T an event may start and still count (the short-term model's settling, a passer-by).
LATE_S = 15.0
#: The demo street, from Debian's opencv-doc: the tuning scenes.
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")

Fraction = tuple[float, float, float, float]  # x1, y1, x2, y2 as fractions of the picture


@dataclass(frozen=True, slots=True)
class Scene:
    name: str
    split: Split
    #: Relative to the eval folder, or absolute (vtest).
    video: str
    zone: Fraction
    #: (photo relative to the eval folder, crop as fractions of it, where it goes as fractions of the video)
    obj: tuple[str, Fraction, Fraction] | None = None
    brightness_swing: float = 0.0
    #: (a walker cut from the scene's first frame, the place it paces across): a passer-by who keeps
    #: covering the object (or, in a passing scene, the same empty place) most of the time.
    walker: tuple[Fraction, Fraction] | None = None
    #: The camera turns at ``TURN_AT_S``: the whole picture moves this many pixels sideways (a PTZ preset).
    turn: float = 0.0

    @property
    def unedited(self) -> bool:
        """The footage as filmed: nothing set down, nobody pasted in, no light or camera change."""
        return self.obj is None and self.walker is None and not self.brightness_swing and not self.turn


_GOODS = "occupation/coco__000000038829.jpg"  # a shopfront's goods rack and scooters
_KERB = "occupation/coco__000000334371.jpg"  # a bus front and a bin at a kerb
_STREET = "occupation/devansh__india_street_traffic.png"  # auto-rickshaws and cars in a jam
_CROSSWALK = "crowd/varshini__crosswalk_commuters.mp4"
_PLAZA = "crowd/atharva__plaza_topdown_cctv.mp4"
#: A petrol station forecourt's CCTV (a monitor's picture with the recorder's camera list beside it).
_PETROL = "fire/l0kxh__petrol_station_motorbike_fire.mp4"
#: intel-iot-devkit/sample-videos@57978890822836f2b4743852f04f62fc511757e4, in the footage folder: a parking
#: lot seen from above (768 x 432, 30 s), and a hall where people come to a table one by one (139 s).
_LOT = "footage/car-detection.mp4"
_HALL = "footage/one-by-one-person-detection.mp4"
#: The man crossing vtest's road in its first frame, pacing over the place the goods are set down.
_VTEST_WALKER = ((0.3255, 0.382, 0.3776, 0.538), (0.55, 0.42, 0.66, 0.56))
SCENES: tuple[Scene, ...] = (
    Scene("vtest-goods", Split.TUNE, str(VTEST), (0.43, 0.31, 0.78, 0.57),
          (_GOODS, (0.15, 0.3, 0.3, 0.55), (0.55, 0.42, 0.66, 0.56))),
    Scene("vtest-passing", Split.TUNE, str(VTEST), (0.43, 0.31, 0.78, 0.57)),
    Scene("vtest-passing-light", Split.TUNE, str(VTEST), (0.43, 0.31, 0.78, 0.57), brightness_swing=0.4),
    Scene("vtest-goods-covered", Split.TUNE, str(VTEST), (0.43, 0.31, 0.78, 0.57),
          (_GOODS, (0.15, 0.3, 0.3, 0.55), (0.55, 0.42, 0.66, 0.56)), walker=_VTEST_WALKER),
    Scene("vtest-passing-covered", Split.TUNE, str(VTEST), (0.43, 0.31, 0.78, 0.57), walker=_VTEST_WALKER),
    # Added with the check for a camera that moved, after the petrol forecourt's held-out controls (a phone
    # panning across the recorder's monitor) showed every edge of a moved picture becoming a mass.
    Scene("vtest-passing-turned", Split.TUNE, str(VTEST), (0.43, 0.31, 0.78, 0.57), turn=60.0),
    # The crosswalk and plaza scenes above and below were held out until 2026-12-05; their results were
    # looked at (docs/detection.md), so since later that day they are tuning scenes, and the held-out half is
    # the block at the end, written down and committed before it was first run.
    Scene("crosswalk-kerb", Split.TUNE, "crowd/varshini__crosswalk_commuters.mp4", (0.05, 0.68, 0.95, 1.0),
          (_KERB, (0.0, 0.4, 0.16, 0.68), (0.12, 0.74, 0.3, 0.98))),
    Scene("crosswalk-passing", Split.TUNE, "crowd/varshini__crosswalk_commuters.mp4",
          (0.05, 0.68, 0.95, 1.0)),
    Scene("plaza-scooter", Split.TUNE, "crowd/atharva__plaza_topdown_cctv.mp4", (0.2, 0.3, 0.8, 0.9),
          (_GOODS, (0.62, 0.55, 0.98, 0.8), (0.4, 0.5, 0.55, 0.64))),
    Scene("plaza-passing", Split.TUNE, "crowd/atharva__plaza_topdown_cctv.mp4", (0.2, 0.3, 0.8, 0.9)),
    # Added 2026-12-05 with the occlusion rule, written down before they were first run (their first
    # results are in docs/detection.md as they came): other crops of the photographs, other places in the
    # two real videos, each zone with its own passing control.
    Scene("crosswalk-rickshaw", Split.TUNE, _CROSSWALK, (0.45, 0.62, 0.98, 1.0),
          (_STREET, (0.52, 0.43, 0.61, 0.64), (0.6, 0.7, 0.78, 0.98))),
    Scene("crosswalk-right-passing", Split.TUNE, _CROSSWALK, (0.45, 0.62, 0.98, 1.0)),
    Scene("crosswalk-goods", Split.TUNE, _CROSSWALK, (0.2, 0.5, 0.8, 0.85),
          (_GOODS, (0.17, 0.32, 0.26, 0.55), (0.42, 0.55, 0.52, 0.8))),
    Scene("crosswalk-middle-passing", Split.TUNE, _CROSSWALK, (0.2, 0.5, 0.8, 0.85)),
    Scene("plaza-bin", Split.TUNE, _PLAZA, (0.0, 0.55, 0.45, 1.0),
          (_KERB, (0.14, 0.57, 0.19, 0.71), (0.2, 0.68, 0.25, 0.85))),
    Scene("plaza-left-passing", Split.TUNE, _PLAZA, (0.0, 0.55, 0.45, 1.0)),
    Scene("plaza-moped", Split.TUNE, _PLAZA, (0.4, 0.0, 1.0, 0.45),
          (_GOODS, (0.0, 0.56, 0.16, 0.9), (0.62, 0.12, 0.74, 0.32))),
    Scene("plaza-top-passing", Split.TUNE, _PLAZA, (0.4, 0.0, 1.0, 0.45)),
    Scene("plaza-car", Split.TUNE, _PLAZA, (0.55, 0.45, 1.0, 0.95),
          (_KERB, (0.84, 0.6, 0.95, 0.71), (0.7, 0.6, 0.85, 0.75))),
    Scene("plaza-right-passing", Split.TUNE, _PLAZA, (0.55, 0.45, 1.0, 0.95)),
    # Held out from 2026-12-05 until their first run that day (docs/detection.md has it as it came): a
    # forecourt clip no rule had seen (a phone filming the recorder's monitor, so the picture pans 30-60 px
    # all along) and new places in the crosswalk and plaza clips. Tuning scenes since.
    Scene("petrol-stool", Split.TUNE, _PETROL, (0.0, 0.45, 0.3, 0.9),
          (_GOODS, (0.14, 0.47, 0.2, 0.57), (0.08, 0.6, 0.16, 0.75))),
    Scene("petrol-left-passing", Split.TUNE, _PETROL, (0.0, 0.45, 0.3, 0.9)),
    Scene("petrol-tarp", Split.TUNE, _PETROL, (0.55, 0.6, 0.95, 0.98),
          (_STREET, (0.78, 0.6, 0.92, 0.78), (0.6, 0.68, 0.75, 0.88))),
    Scene("petrol-right-passing", Split.TUNE, _PETROL, (0.55, 0.6, 0.95, 0.98)),
    Scene("crosswalk-car", Split.TUNE, _CROSSWALK, (0.6, 0.55, 1.0, 0.8),
          (_KERB, (0.07, 0.6, 0.26, 0.7), (0.78, 0.62, 0.98, 0.76))),
    Scene("crosswalk-kerbside-passing", Split.TUNE, _CROSSWALK, (0.6, 0.55, 1.0, 0.8)),
    Scene("plaza-stool", Split.TUNE, _PLAZA, (0.3, 0.2, 0.7, 0.6),
          (_GOODS, (0.14, 0.47, 0.2, 0.57), (0.45, 0.35, 0.52, 0.45))),
    Scene("plaza-centre-passing", Split.TUNE, _PLAZA, (0.3, 0.2, 0.7, 0.6)),
    Scene("plaza-rickshaw", Split.TUNE, _PLAZA, (0.0, 0.0, 0.4, 0.45),
          (_STREET, (0.34, 0.55, 0.44, 0.78), (0.22, 0.1, 0.32, 0.3))),
    Scene("plaza-topleft-passing", Split.TUNE, _PLAZA, (0.0, 0.0, 0.4, 0.45)),
    # Held out, written down on 2026-12-05 (evening) before they were first run, after the rule's last
    # change: two real clips of intel-iot-devkit/sample-videos (CC BY 4.0, ``--footage``) no rule has seen,
    # a parking lot filmed from above with cars driving through and a hall where people walk up to a table,
    # stand at it for a while and leave; objects cut from those clips and crops of the photographs not used
    # above. Each zone with its own passing control.
    Scene("lot-red-car", Split.HOLDOUT, _LOT, (0.55, 0.05, 1.0, 0.95),
          (f"{_LOT}#216", (0.40, 0.08, 0.60, 0.62), (0.70, 0.22, 0.90, 0.76))),
    Scene("lot-right-passing", Split.HOLDOUT, _LOT, (0.55, 0.05, 1.0, 0.95)),
    Scene("lot-table", Split.HOLDOUT, _LOT, (0.0, 0.1, 0.45, 0.95),
          (f"{_HALL}#0", (0.49, 0.17, 0.69, 0.79), (0.12, 0.28, 0.24, 0.76))),
    Scene("lot-left-passing", Split.HOLDOUT, _LOT, (0.0, 0.1, 0.45, 0.95)),
    Scene("lot-suv", Split.HOLDOUT, _LOT, (0.3, 0.0, 0.7, 0.6),
          (_STREET, (0.88, 0.43, 1.0, 0.68), (0.42, 0.1, 0.58, 0.45))),
    Scene("lot-centre-passing", Split.HOLDOUT, _LOT, (0.3, 0.0, 0.7, 0.6)),
    Scene("hall-scooter", Split.HOLDOUT, _HALL, (0.6, 0.55, 1.0, 1.0),
          (_GOODS, (0.83, 0.42, 0.92, 0.56), (0.72, 0.66, 0.9, 0.92))),
    Scene("hall-right-passing", Split.HOLDOUT, _HALL, (0.6, 0.55, 1.0, 1.0)),
    Scene("hall-rickshaw", Split.HOLDOUT, _HALL, (0.2, 0.45, 0.8, 1.0),
          (_STREET, (0.6, 0.52, 0.69, 0.72), (0.3, 0.58, 0.42, 0.9))),
    Scene("hall-table-passing", Split.HOLDOUT, _HALL, (0.2, 0.45, 0.8, 1.0)),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SceneResult:
    scene: Scene
    #: Seconds since the scene's start of each occupation START.
    starts: tuple[float, ...]

    @property
    def positive(self) -> bool:
        return self.scene.obj is not None

    @property
    def hit(self) -> bool:
        """Positive: exactly one START, in its window. Negative: none."""
        if not self.positive:
            return not self.starts
        low = APPEAR_S + T_S
        return len(self.starts) == 1 and low <= self.starts[0] <= low + LATE_S

    def as_json(self) -> dict[str, object]:
        return {
            "scene": self.scene.name,
            "split": str(self.scene.split),
            "video": self.scene.video,
            "expected_start_s": [APPEAR_S + T_S, APPEAR_S + T_S + LATE_S] if self.positive else None,
            "starts_s": list(self.starts),
            "ok": self.hit,
        }


#: Scene files under this prefix live in a footage folder given apart from the eval folder (``--footage``):
#: a checkout of intel-iot-devkit/sample-videos (CC BY 4.0), whose files the eval set does not carry.
FOOTAGE = "footage/"


def _path(name: str, root: Path, footage: Path | None) -> Path | None:
    """Where a scene's video or photograph is: absolute, in the footage folder, or in the eval folder."""
    if name.startswith(FOOTAGE):
        return None if footage is None else footage / name.removeprefix(FOOTAGE).split("#")[0]
    return Path(name) if Path(name).is_absolute() else root / name


def _picture(name: str, root: Path, footage: Path | None) -> np.ndarray:
    """A photograph, or the frame ``#n`` of a video (``footage/car-detection.mp4#216``)."""
    path = _path(name, root, footage)
    if path is None:
        raise FileNotFoundError(f"{name}: needs the footage folder")
    if "#" in name:
        capture = cv2.VideoCapture(str(path))
        capture.set(cv2.CAP_PROP_POS_FRAMES, int(name.rsplit("#", 1)[1]))
        ok, image = capture.read()
        capture.release()
        picture = image if ok else None
    else:
        picture = cv2.imread(str(path))
    if picture is None:
        raise FileNotFoundError(path)
    return picture


def _box(fraction: Fraction, width: int, height: int) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = fraction
    return round(x1 * width), round(y1 * height), round(x2 * width), round(y2 * height)


#: The walker paces across its place and back in this many seconds, 1.5 times the place's height.
PACE_S = 8.0


def _pacer(walker: tuple[Fraction, Fraction], first: np.ndarray) -> Callable[[np.ndarray, float], None]:
    """Pastes the walker over its place, sliding from one edge to the other and back (a triangle wave)."""
    crop, where = walker
    height, width = first.shape[:2]
    cx1, cy1, cx2, cy2 = _box(crop, width, height)
    x1, y1, x2, y2 = _box(where, width, height)
    tall = round(1.5 * (y2 - y1))
    wide = max(1, round(tall * (cx2 - cx1) / (cy2 - cy1)))
    person = cv2.resize(first[cy1:cy2, cx1:cx2], (wide, tall))
    top = max(0, y2 - tall)
    person = person[tall - (y2 - top) :]

    def paste(image: np.ndarray, t: float) -> None:
        phase = (t % PACE_S) / PACE_S
        along = 2 * phase if phase < 0.5 else 2 - 2 * phase
        left = round(x1 - wide / 2 + along * (x2 - x1))
        a, b = max(0, left), min(width, left + wide)
        image[top:y2, a:b] = person[:, a - left : b - left]

    return paste


def _greyscale(image: np.ndarray) -> bool:
    """Footage with no colour (the plaza's monochrome CCTV): its channels agree to within noise."""
    spread = image.max(axis=2).astype(np.int16) - image.min(axis=2)
    return float(spread.mean()) < 2.0


def _editor(
    scene: Scene,
    root: Path,
    width: int,
    height: int,
    first: np.ndarray | None = None,
    footage: Path | None = None,
) -> Callable[[np.ndarray, float], np.ndarray]:
    patch = None
    place = (0, 0, 0, 0)
    pace = _pacer(scene.walker, first) if scene.walker is not None and first is not None else None
    if scene.obj is not None:
        photo_file, crop, where = scene.obj
        photo = _picture(photo_file, root, footage)
        cx1, cy1, cx2, cy2 = _box(crop, photo.shape[1], photo.shape[0])
        place = _box(where, width, height)
        patch = cv2.resize(photo[cy1:cy2, cx1:cx2], (place[2] - place[0], place[3] - place[1]))
        if first is not None and _greyscale(first):
            # A monochrome camera would see the object in grey too, not as the only colour in its picture.
            patch = cv2.cvtColor(cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)

    def edit(image: np.ndarray, t: float) -> np.ndarray:
        if patch is not None and t >= APPEAR_S:
            image[place[1] : place[3], place[0] : place[2]] = patch
        if pace is not None and t >= APPEAR_S:
            pace(image, t)
        if scene.turn and t >= TURN_AT_S:
            move = np.array([[1.0, 0.0, scene.turn], [0.0, 1.0, 0.0]], np.float32)
            image = cv2.warpAffine(image, move, (width, height), borderMode=cv2.BORDER_REPLICATE)
        if scene.brightness_swing:
            gain = 1.0 + scene.brightness_swing * np.sin(2 * np.pi * t / 60.0)
            image = np.clip(image.astype(np.float32) * gain, 0, 255).astype(np.uint8)
        return image

    return edit


#: The detector's findings per analysed frame of an unedited scene, by video: every passing control of a
#: video sees the same pictures, so the detector runs over them once.
Seen = dict[str, list[list[Detection]]]


def run_scene(
    scene: Scene, root: Path, detector: Detector, seen: Seen | None = None, footage: Path | None = None
) -> SceneResult:
    video = _path(scene.video, root, footage)
    if video is None:
        raise FileNotFoundError(f"{scene.name}: {scene.video} needs the footage folder")
    frames = [image for _, image in _video_frames(video, ANALYSIS_FPS)]
    loop = frames + frames[::-1]
    memo = seen.setdefault(str(video), []) if seen is not None and scene.unedited else None
    height, width = frames[0].shape[:2]
    x1, y1, x2, y2 = _box(scene.zone, width, height)
    zone = Zone(
        scene.name,
        ZoneKind.OCCUPATION,
        ((x1, y1), (x2, y1), (x2, y2), (x1, y2)),
        min_seconds=T_S,
        cooldown_seconds=10.0,
        static_mass=StaticMassSettings(),
    )
    rule = OccupationRule(zone, static=StaticMass(zone))
    edit = _editor(scene, root, width, height, frames[0], footage)
    start = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
    starts = []
    for k in range(int(SCENE_S * ANALYSIS_FPS)):
        t = k / ANALYSIS_FPS
        image = edit(loop[k % len(loop)].copy(), t)
        if memo is not None and k < len(memo):
            found = memo[k]
        else:
            found = detector.detect([image])[0]
            if memo is not None:
                memo.append(found)
        output = rule.update_frame(found, image, start + timedelta(seconds=t))
        if output is not None and output.phase is Phase.START:
            starts.append(t)
    return SceneResult(scene, tuple(starts))


def available(root: Path, scenes: Sequence[Scene] = SCENES, footage: Path | None = None) -> list[Scene]:
    """The scenes whose video and photograph are on this machine."""

    def there(name: str) -> bool:
        path = _path(name, root, footage)
        return path is not None and path.is_file()

    def present(scene: Scene) -> bool:
        return there(scene.video) and (scene.obj is None or there(scene.obj[0]))

    return [s for s in scenes if present(s)]


def summary(results: Sequence[SceneResult]) -> dict[str, object]:
    """Occupation recall over positive scenes and false events over people merely passing."""
    positives = [r for r in results if r.positive]
    negatives = [r for r in results if not r.positive]
    found = sum(r.hit for r in positives)
    return {
        "scenes": len(results),
        "recall": found / len(positives) if positives else None,
        "found": found,
        "positives": len(positives),
        "events_from_passing": sum(len(r.starts) for r in negatives),
        "passing_seconds": len(negatives) * SCENE_S,
    }
