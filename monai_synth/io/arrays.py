"""Array helpers shared by the writers: tensors to numpy, channel layout, unit conversions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["check_finite", "image_2d", "to_numpy", "unit_to_display", "unit_to_native"]


def to_numpy(image: torch.Tensor | np.ndarray | Sequence[float]) -> np.ndarray:
    """Return ``image`` as a float64 numpy array (detached and moved to the CPU for tensors).

    Torch is not imported here: a tensor is recognised by its ``detach`` method.

    Args:
        image: a torch tensor (``MetaTensor`` included, any device or dtype) or array-like.
    """
    if hasattr(image, "detach"):
        image = image.detach().cpu().double().numpy()
    return np.asarray(image, dtype=np.float64)


def check_finite(array: np.ndarray, what: str) -> None:
    """Raise ``ValueError`` naming ``what`` when ``array`` holds NaN or infinity."""
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what}: image contains NaN or infinite values")


def image_2d(image: np.ndarray, what: str = "image") -> np.ndarray:
    """Bring a channel-first 2D image to ``(H, W)`` (grayscale) or ``(H, W, 3)`` (RGB).

    Args:
        image: array of shape ``(H, W)``, ``(1, H, W)`` or ``(3, H, W)``.
        what: name used in error messages (usually the output path).

    Raises:
        ValueError: for any other shape.
    """
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[0] == 1:
        return image[0]
    if image.ndim == 3 and image.shape[0] == 3:
        return np.moveaxis(image, 0, -1)
    raise ValueError(f"{what}: expected a 2D image of shape (H, W), (1, H, W) or (3, H, W), got {image.shape}")


def unit_to_native(y: np.ndarray, level: float, width: float) -> np.ndarray:
    """Map model output in [-1, 1] (clipped) back to native units through the window (level, width).

    ``-1`` maps to ``level - width / 2`` and ``1`` to ``level + width / 2`` (e.g. HU for CT),
    the inverse of the windowing used for training.
    """
    if width <= 0:
        raise ValueError(f"window width must be positive, got {width}")
    return level + np.clip(y, -1.0, 1.0) * (width / 2.0)


def unit_to_display(y: np.ndarray, bits: int) -> np.ndarray:
    """Map model output in [-1, 1] (clipped) to the display range ``0 .. 2**bits - 1`` (rounded)."""
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits}")
    top = float(2**bits - 1)
    return np.rint((np.clip(y, -1.0, 1.0) + 1.0) * (top / 2.0))
