"""Fitting camera pictures to a network input, shared by the native back-ends (OpenVINO, ONNX Runtime).

Each camera's frames are letterboxed to its own aspect ratio (long side ``imgsz``, short side a multiple
of 32) instead of a square, and a batch is grouped by input size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

#: Ultralytics' letterbox grey, so every back-end sees the same padding.
PAD_VALUE = 114


def letterbox_shape(width: int, height: int, imgsz: int) -> tuple[int, int]:
    """(width, height) of the network input: long side ``imgsz``, short side up to a multiple of 32."""
    scale = imgsz / max(width, height)
    w = math.ceil(width * scale / 32) * 32
    h = math.ceil(height * scale / 32) * 32
    return min(w, imgsz), min(h, imgsz)


def letterbox(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Resize keeping the aspect ratio and pad centred; returns (picture, scale, (pad_x, pad_y))."""
    height, width = image.shape[:2]
    target_w, target_h = size
    scale = min(target_w / width, target_h / height)
    new_w, new_h = round(width * scale), round(height * scale)
    resized = image if (new_w, new_h) == (width, height) else cv2.resize(image, (new_w, new_h))
    pad_x, pad_y = (target_w - new_w) // 2, (target_h - new_h) // 2
    boxed = cv2.copyMakeBorder(
        resized,
        pad_y,
        target_h - new_h - pad_y,
        pad_x,
        target_w - new_w - pad_x,
        cv2.BORDER_CONSTANT,
        value=(PAD_VALUE, PAD_VALUE, PAD_VALUE),
    )
    return boxed, scale, (pad_x, pad_y)


def check_settings(confidence: float, imgsz: int) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if imgsz <= 0 or imgsz % 32:
        raise ValueError(f"imgsz must be a positive multiple of 32, got {imgsz}")


def by_letterbox(images: Sequence[np.ndarray], imgsz: int) -> dict[tuple[int, int], list[int]]:
    """The images' indices grouped by network input size: one batch per camera aspect ratio."""
    groups: dict[tuple[int, int], list[int]] = {}
    for index, image in enumerate(images):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected HxWx3 uint8 BGR images, got {image.shape} {image.dtype}")
        height, width = image.shape[:2]
        groups.setdefault(letterbox_shape(width, height, imgsz), []).append(index)
    return groups
