"""Keeps Ultralytics and OpenVINO from reaching the network: no downloads, installs or usage reports.

Ultralytics reads ``YOLO_AUTOINSTALL`` once, when ``ultralytics.utils`` is first imported, so these must be
set before any ``import ultralytics``. ``detect/__init__.py`` imports this module for that reason; an
operator who really wants hub downloads sets ``YOLO_OFFLINE=0`` in the environment beforehand.

OpenVINO's model converter, imported by ``import openvino``, sends usage events to Google Analytics
unless the user opted out with its ``opt_in_out`` tool. Without the ``openvino_telemetry`` package it
falls back to its own no-op, so the package is hidden from imports: gridwatch never reports usage.
"""

from __future__ import annotations

import os
import sys

sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")

_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})


def offline() -> bool:
    """Whether hub downloads are forbidden; mirrors Ultralytics' own parsing of ``YOLO_OFFLINE``."""
    return os.environ.get("YOLO_OFFLINE", "").strip().lower() in _TRUE
