"""PNG writer (8- or 16-bit, grayscale or RGB) through Pillow."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from monai_synth.io.arrays import check_finite, image_2d, to_numpy
from monai_synth.io.atomic import atomic_open

if TYPE_CHECKING:
    import torch

__all__ = ["quantize", "write_png"]


def quantize(image: np.ndarray, bits: int, value_range: tuple[float, float]) -> np.ndarray:
    """Map ``value_range`` linearly onto ``0 .. 2**bits - 1``, clipping outside values.

    Args:
        image: float array.
        bits: 8 (uint8) or 16 (uint16).
        value_range: ``(lo, hi)`` mapped to 0 and to the largest integer.

    Returns:
        The rounded integer array (uint8 or uint16).
    """
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits}")
    lo, hi = (float(v) for v in value_range)
    if not hi > lo:
        raise ValueError(f"value_range must satisfy lo < hi, got {value_range}")
    top = 2**bits - 1
    scaled = np.rint((image - lo) * (top / (hi - lo)))
    return np.clip(scaled, 0, top).astype(np.uint8 if bits == 8 else np.uint16)


def write_png(
    image: torch.Tensor | np.ndarray,
    path: str | os.PathLike,
    bits: int = 8,
    value_range: tuple[float, float] = (-1.0, 1.0),
    *,
    inputs: Iterable[str | os.PathLike | None] = (),
) -> Path:
    """Write a 2D image as an 8- or 16-bit PNG, atomically.

    Args:
        image: ``(H, W)``, ``(1, H, W)`` or ``(3, H, W)`` array or tensor; row index first.
        path: output file (``.png``); parent folders are created.
        bits: 8 or 16 bits per sample (16-bit is grayscale only).
        value_range: values mapped to black and to white; values outside are clipped.
        inputs: input files that must not be overwritten.

    Returns:
        The written path.

    Raises:
        ValueError: bad shape, bits, range, non-finite values, or ``path`` is an input file.
    """
    array = image_2d(to_numpy(image), os.fspath(path))
    check_finite(array, os.fspath(path))
    if bits == 16 and array.ndim == 3:
        raise ValueError(f"{os.fspath(path)}: 16-bit PNG is written for grayscale images only")
    pil_image = Image.fromarray(quantize(array, bits, value_range))
    with atomic_open(path, inputs=inputs) as handle:
        pil_image.save(handle, format="PNG")
    return Path(path)
