"""Map an image's natural value range (meta ``value_range``, e.g. 0..255) onto [-1, 1]."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.config import KeysCollection
from monai.data import MetaTensor

from monai_synth.data.errors import DataError

from .intensity import UnitIntervalTransform, UnitIntervalTransformd, header_number

__all__ = ["RangeToSymmetric", "RangeToSymmetricd"]


def _range_of(value: object) -> tuple[float, float] | None:
    """(lo, hi) from a meta ``value_range`` (tuple, list or tensor), or None."""
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        value = value.reshape(-1).tolist()
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) < 2:
        return None
    lo, hi = header_number(value[0]), header_number(value[1])
    if lo is None or hi is None or not hi > lo:
        return None
    return lo, hi


class RangeToSymmetric(UnitIntervalTransform):
    """Map the value range of the image's source (meta ``value_range``) linearly onto [-1, 1].

    The loader sets ``value_range`` to the natural range of the stored data type (0..255 for 8-bit
    rasters, 0..65535 for 16-bit, (0, 1) for the phantom). ``value_range`` given here is used for
    images without that meta (plain arrays). Invertible like every transform of this package.

    Args:
        value_range: (lo, hi) used when the image has no meta ``value_range``.
        clip: clip the output to [-1, 1] (values are inside the range by definition).

    Raises:
        ValueError: if ``value_range`` is not an increasing pair.
    """

    def __init__(self, value_range: Sequence[float] | None = None, clip: bool = False) -> None:
        super().__init__(clip=clip)
        self.value_range = None if value_range is None else _range_of(tuple(value_range))
        if value_range is not None and self.value_range is None:
            raise ValueError(f"value_range must be an increasing pair (lo, hi), got {value_range!r}")

    def window_for(self, img: torch.Tensor) -> tuple[float, float]:
        """Window spanning the image's value range."""
        meta = img.meta if isinstance(img, MetaTensor) else {}
        bounds = _range_of(meta.get("value_range")) or self.value_range
        if bounds is None:
            raise DataError(
                f"no value_range in the image meta (got {meta.get('value_range')!r}); use a window or percentile "
                "normalisation, or give RangeToSymmetric(value_range=(lo, hi))",
                meta.get("filename_or_obj") or None,
            )
        lo, hi = bounds
        return 0.5 * (lo + hi), hi - lo

    def fallback_window(self, img: torch.Tensor) -> tuple[float, float] | None:
        """The configured range, if any, as a window."""
        if self.value_range is None:
            return None
        lo, hi = self.value_range
        return 0.5 * (lo + hi), hi - lo


class RangeToSymmetricd(UnitIntervalTransformd):
    """Dictionary version of :class:`RangeToSymmetric`.

    Args:
        keys: keys of the images to map.
        value_range, clip: as for :class:`RangeToSymmetric`.
        allow_missing_keys: do not fail when a key is absent.
    """

    def __init__(
        self,
        keys: KeysCollection = ("image",),
        value_range: Sequence[float] | None = None,
        clip: bool = False,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, RangeToSymmetric(value_range, clip), allow_missing_keys)
