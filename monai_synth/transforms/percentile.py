"""Per-image percentile normalisation to [-1, 1] (MR and other modalities without absolute units)."""

from __future__ import annotations

import numpy as np
import torch
from monai.config import KeysCollection

from .intensity import UnitIntervalTransform, UnitIntervalTransformd

__all__ = ["PercentileNormalize", "PercentileNormalized"]


class PercentileNormalize(UnitIntervalTransform):
    """Map the ``lower``..``upper`` percentiles of each image linearly onto [-1, 1].

    The percentiles are computed over all pixels (and channels) of the image; the interval is recorded
    as a window (``window_center``, ``window_width``) in the meta and ``applied_operations`` so the
    inverse restores native units. A constant image maps to -1 (width taken as 1).

    Args:
        lower: lower percentile, 0..100.
        upper: upper percentile, 0..100, > ``lower``.
        clip: clip the output to [-1, 1] (the extreme tails saturate).

    Raises:
        ValueError: if the percentiles are out of order or out of 0..100.
    """

    def __init__(self, lower: float = 0.5, upper: float = 99.5, clip: bool = True) -> None:
        if not 0.0 <= lower < upper <= 100.0:
            raise ValueError(f"percentiles must satisfy 0 <= lower < upper <= 100, got {lower}, {upper}")
        super().__init__(clip=clip)
        self.lower, self.upper = float(lower), float(upper)

    def window_for(self, img: torch.Tensor) -> tuple[float, float]:
        """Window spanning this image's percentiles."""
        values = torch.as_tensor(img).detach().cpu().numpy()
        lo, hi = (float(v) for v in np.percentile(values, [self.lower, self.upper]))
        width = hi - lo if hi > lo else 1.0
        return lo + 0.5 * width, width


class PercentileNormalized(UnitIntervalTransformd):
    """Dictionary version of :class:`PercentileNormalize`.

    Args:
        keys: keys of the images to normalise.
        lower, upper, clip: as for :class:`PercentileNormalize`.
        allow_missing_keys: do not fail when a key is absent.
    """

    def __init__(
        self,
        keys: KeysCollection = ("image",),
        lower: float = 0.5,
        upper: float = 99.5,
        clip: bool = True,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, PercentileNormalize(lower, upper, clip), allow_missing_keys)
