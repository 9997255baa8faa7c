"""``detectors:``: which weights find people and vehicles, and which find fire and smoke.

The ML weights are called detectors throughout gridwatch; ``models/`` is the data model. Site files written
before the rename say ``models:``; SiteConfig still reads that key (see document.py).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from models.config.base import ConfigModel


class PersonDetectorConfig(ConfigModel):
    weights: str | None = Field(
        default=None,
        title="Weights file",
        description="Path to detector weights (.pt, .onnx or OpenVINO dir).",
    )
    package: str | None = Field(
        default=None,
        title="Weights package",
        description="An installed Python package that ships the weights.",
    )
    imgsz: int = Field(
        default=640,
        ge=32,
        le=4096,
        title="Input size",
        description="Detector input, a multiple of 32 (the long side with the OpenVINO back-end). "
        "416 keeps 93 % of 640's persons at 3.8× the frames/s: what 32 cameras per 2-core node need.",
    )
    confidence: float = Field(
        default=0.30, gt=0, lt=1, title="Confidence", description="Detections below this score are dropped."
    )
    backend: Literal["auto", "openvino", "onnxruntime", "ultralytics"] = Field(
        default="auto",
        title="Back-end",
        description="auto: gridwatch's own OpenVINO runner, for an OpenVINO export folder or .pt weights "
        "exported to one on first use (cached by content; Ultralytics if the export fails), Ultralytics "
        "for anything else; openvino / onnxruntime: that runtime, exporting .pt weights the same way; "
        "ultralytics: always Ultralytics.",
    )
    # 20 chosen on the tuning half of the eval set (bench/crowd_tiling_sweep.py, docs/detection.md): with the
    # tiles' seam filter, 20 and above give the best tuning figures (every crowd within ±25 %); 8-10 do not.
    tiles_above_persons: int | None = Field(
        default=20,
        ge=1,
        title="Tiled pass above",
        description="Where the first pass finds at least this many people, run the detector again on 2×2 "
        "overlapping tiles at full resolution and merge (dense crowds: small, occluded heads); null: never.",
    )

    @field_validator("imgsz")
    @classmethod
    def _multiple_of_32(cls, value: int) -> int:
        if value % 32:
            raise ValueError(f"must be a multiple of 32, got {value}")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> PersonDetectorConfig:
        if self.weights is not None and self.package is not None:
            raise ValueError("give weights or package, not both")
        return self


class FireDetectorConfig(ConfigModel):
    enabled: bool = Field(
        default=True,
        title="Enabled",
        description="Load the fire/smoke model when the fire-detector package is installed "
        "(pip install 'gridwatch[fire]'); false: fire zones stay idle.",
    )
    # The default is detect.rules.fire.FIRE_EVERY_SECONDS; models/ does not import detect/.
    every_seconds: float = Field(
        default=2.0,
        gt=0,
        title="Check interval",
        description="Seconds between the fire model's looks at a camera with a fire zone: every Nth "
        "analysed frame, N = every_seconds × analysis_fps (at least 1). Fire zones vote k of n over those "
        "frames only.",
    )


class DetectorsSection(ConfigModel):
    person: PersonDetectorConfig = Field(
        default_factory=PersonDetectorConfig,
        title="Person detector",
        description="Finds people and vehicles.",
    )
    fire: FireDetectorConfig = Field(
        default_factory=FireDetectorConfig,
        title="Fire/smoke detector",
        description="Finds flames and smoke for fire zones, at a lower rate than the person detector.",
    )
