"""Keeps Ultralytics from reaching the network: no weight downloads, no pip installs at run time.

Ultralytics reads ``YOLO_AUTOINSTALL`` once, when ``ultralytics.utils`` is first imported, so these must be
set before any ``import ultralytics``. ``detect/__init__.py`` imports this module for that reason; an
operator who really wants hub downloads sets ``YOLO_OFFLINE=0`` in the environment beforehand.
"""

from __future__ import annotations

import os

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")

_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})


def offline() -> bool:
    """Whether hub downloads are forbidden; mirrors Ultralytics' own parsing of ``YOLO_OFFLINE``."""
    return os.environ.get("YOLO_OFFLINE", "").strip().lower() in _TRUE
