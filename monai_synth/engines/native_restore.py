"""Restore an image at its own pixel grid, and keep the values the model never saw.

A restoration model is trained on small square images (say 64 x 64). Resizing a 512 x 512 CT slice to that
size and writing the result back would throw away most of the patient's resolution and call the result
restored. Instead the model runs over the full-resolution image in overlapping patches of its training size
(MONAI's ``SlidingWindowInferer``, Gaussian-weighted blending), so the output has the input's pixel grid.

The model also only knows the intensity window it was trained on (an abdomen CT window maps -160..240 HU to
[-1, 1]). Pixels whose source value lies outside that window (air at -1000 HU, bone at +1500 HU) cannot be
restored by it and are carried through from the source, so the HU written outside the window stay true.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F


def sliding_restore(
    restorer: Callable[[torch.Tensor, list[int]], torch.Tensor],
    condition: torch.Tensor,
    patch_size: int,
    seed: int,
    batch_size: int = 16,
    overlap: float = 0.25,
) -> torch.Tensor:
    """Restore one condition ``(1, C_cond, H, W)`` patch-wise at its own size; returns ``(1, C, H, W)`` in [-1, 1].

    Args:
        restorer: ``restorer(patches, seeds)`` on ``(B, C_cond, patch_size, patch_size)`` patches.
        condition: the whole image's condition.
        patch_size: the model's training size.
        seed: the image's seed; patch ``k`` (in the inferer's fixed order) uses ``seed * 100_003 + k``.
        batch_size: patches per restorer call, at least; small patches go in larger calls (about one
            256 x 256 image of pixels per call), since a call's cost is mostly overhead at small sizes.
        overlap: fraction of overlap between patches (blended with Gaussian weights).
    """
    from monai.inferers import SlidingWindowInferer

    counter = [0]

    def run(patches: torch.Tensor) -> torch.Tensor:
        seeds = [int(seed) * 100_003 + counter[0] + k for k in range(patches.shape[0])]
        counter[0] += patches.shape[0]
        return restorer(patches, seeds).float()

    per_call = max(int(batch_size), (256 // max(int(patch_size), 1)) ** 2)
    inferer = SlidingWindowInferer(roi_size=(patch_size, patch_size), sw_batch_size=per_call, overlap=overlap,
                                   mode="gaussian", padding_mode="replicate", progress=False)
    with torch.no_grad():
        return inferer(condition, run).clamp(-1.0, 1.0)


def resample_native(native: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """A native-unit image ``(C, H, W)`` on another grid ``shape`` (bicubic; unchanged when the grid is the same)."""
    if tuple(native.shape[-2:]) == tuple(shape):
        return native
    return F.interpolate(native[None].double(), size=tuple(shape), mode="bicubic", align_corners=False)[0]


def carry_outside_window(restored: np.ndarray, source: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """Native-unit ``restored`` where the source lies inside ``window`` (center, width), the source elsewhere.

    Args:
        restored: restored image in native units, mapped back through ``window``.
        source: the source image in native units on the same grid.
        window: the intensity window (center, width) the model's normalisation used for this image.
    """
    center, width = window
    lo, hi = center - width / 2.0, center + width / 2.0
    outside = (source < lo) | (source > hi)
    return np.where(outside, source, restored)


def window_note(window: tuple[float, float]) -> str:
    """The sentence a derived series records about the window used."""
    center, width = window
    return (f"Model intensity window: center {center:g}, width {width:g} (values {center - width / 2:g} to "
            f"{center + width / 2:g}); source values outside it are carried through unchanged.")
