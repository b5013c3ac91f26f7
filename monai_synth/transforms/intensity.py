"""Linear intensity mappings to [-1, 1] and back: the shared machinery of the intensity transforms.

Every intensity transform of this package maps an interval ``[lo, hi]`` of native units (HU for CT,
raw values for MR, 0..255 for 8-bit rasters) linearly onto ``[-1, 1]``, the range the generative
models work in. The interval is described as a window (``center = (lo + hi) / 2``,
``width = hi - lo``), so one pair of functions, :func:`window_to_unit` and :func:`unit_to_window`,
serves all of them and lets writers put generated images back into native units.

The transforms (:class:`UnitIntervalTransform` subclasses) record the window they applied three
ways, so that their inverse works whatever the caller kept:

* in ``applied_operations`` (MONAI's invertible-transform trace), with the meta window it replaced;
* in the output's meta as ``window_center`` / ``window_width`` (what writers and DICOM headers use);
* and, for fixed windows, in the transform's own configuration.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import InvertibleTransform, MapTransform, Transform
from monai.utils import TraceKeys, TransformBackends, convert_to_tensor

__all__ = [
    "UnitIntervalTransform",
    "UnitIntervalTransformd",
    "header_number",
    "unit_to_window",
    "window_to_unit",
]

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


def window_to_unit(x: ArrayT, level: float, width: float, clip: bool = True) -> ArrayT:
    """Map ``[level - width / 2, level + width / 2]`` linearly onto ``[-1, 1]``.

    Args:
        x: image in native units (numpy array or torch tensor; a MetaTensor keeps its meta).
        level: window centre in native units (e.g. 50 HU).
        width: window width in native units (e.g. 350 HU), > 0.
        clip: clip the result to [-1, 1] (values outside the window saturate).

    Returns:
        float32 array or tensor of the same kind as ``x``.

    Raises:
        ValueError: if ``width`` is not positive.
    """
    if not width > 0:
        raise ValueError(f"window width must be > 0, got {width}")
    lo = level - 0.5 * width
    if isinstance(x, torch.Tensor):
        y = (x.float() - lo).mul_(2.0 / width).sub_(1.0)  # one new tensor, then in place
        return y.clamp_(-1.0, 1.0) if clip else y
    y = (np.asarray(x, dtype=np.float32) - np.float32(lo)) * np.float32(2.0 / width) - np.float32(1.0)
    return np.clip(y, -1.0, 1.0) if clip else y


def unit_to_window(y: ArrayT, level: float, width: float) -> ArrayT:
    """Inverse of :func:`window_to_unit`: map ``[-1, 1]`` back to native units.

    Args:
        y: image in [-1, 1] (numpy array or torch tensor).
        level: window centre in native units.
        width: window width in native units, > 0.

    Returns:
        float32 array or tensor of the same kind as ``y``; exact (to float32 rounding) for values
        that were inside the window.

    Raises:
        ValueError: if ``width`` is not positive.
    """
    if not width > 0:
        raise ValueError(f"window width must be > 0, got {width}")
    lo = level - 0.5 * width
    if isinstance(y, torch.Tensor):
        return (y.float() + 1.0).mul_(0.5 * width).add_(lo)
    return (np.asarray(y, dtype=np.float32) + np.float32(1.0)) * np.float32(0.5 * width) + np.float32(lo)


def header_number(value: Any) -> float | None:
    """First numeric value of a header field (DICOM multi-values, ``"40\\\\400"`` strings, tensors).

    Returns None for None, empty or non-numeric values.
    """
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split("\\")[0].strip()
        try:
            return float(value)
        except ValueError:
            return None
    if isinstance(value, torch.Tensor):
        return float(value.reshape(-1)[0]) if value.numel() else None
    if isinstance(value, np.ndarray):
        return float(value.reshape(-1)[0]) if value.size else None
    if isinstance(value, Sequence):  # list, tuple, pydicom MultiValue
        return header_number(value[0]) if len(value) else None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _as_image(img: Any) -> torch.Tensor:
    """Float32 tensor (a MetaTensor when MONAI meta tracking is on) from an array, tensor or MetaTensor."""
    out = convert_to_tensor(img, track_meta=get_track_meta())
    return out if out.dtype == torch.float32 else out.float()


def _meta_window(img: torch.Tensor) -> tuple[float | None, float | None]:
    """(center, width) from the meta of ``img`` (first values), or Nones."""
    if not isinstance(img, MetaTensor):
        return None, None
    return header_number(img.meta.get("window_center")), header_number(img.meta.get("window_width"))


class UnitIntervalTransform(InvertibleTransform, Transform):
    """Base class: maps a per-image interval of native units linearly onto [-1, 1], invertibly.

    Subclasses implement :meth:`window_for` (the (center, width) to apply to one image) and may
    override :meth:`fallback_window` (the window for an inverse when the image carries no trace of
    the forward, e.g. a generated image).

    Args:
        clip: clip the output to [-1, 1].
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, clip: bool = True) -> None:
        self.clip = clip

    def window_for(self, img: torch.Tensor) -> tuple[float, float]:
        """(center, width) in native units to map onto [-1, 1] for this image."""
        raise NotImplementedError

    def fallback_window(self, img: torch.Tensor) -> tuple[float, float] | None:
        """Window used by :meth:`inverse` for images without a recorded forward (default: none)."""
        return None

    def __call__(self, img: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Map ``img`` (C, H, W) in native units to [-1, 1] and record the window.

        Returns:
            float32 MetaTensor (a plain tensor when meta tracking is off) in [-1, 1].
        """
        img = _as_image(img)
        center, width = self.window_for(img)
        out = window_to_unit(img, center, width, clip=self.clip)
        if isinstance(out, MetaTensor):
            previous = (img.meta.get("window_center"), img.meta.get("window_width"))
            out.meta["window_center"], out.meta["window_width"] = float(center), float(width)
            info = {"window_center": float(center), "window_width": float(width), "previous_window": previous}
            self.push_transform(out, extra_info=info)
        return out

    def inverse(self, data: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Map an image in [-1, 1] back to native units.

        The window comes from this transform's entry in ``applied_operations`` when present (and the
        entry is removed, the meta window restored), else from the meta ``window_center`` /
        ``window_width``, else from the transform's own fixed window.

        Raises:
            ValueError: when no window can be found (e.g. a plain tensor through a per-image transform).
        """
        img = _as_image(data)
        traced = self._pop_own_operation(img)
        if traced is not None:
            center, width = traced["window_center"], traced["window_width"]
        else:
            center, width = _meta_window(img)
            if center is None or width is None:
                fallback = self.fallback_window(img)
                if fallback is None:
                    raise ValueError(
                        f"{type(self).__name__}.inverse: the image carries no window (no applied operation, no meta "
                        "window_center/window_width); pass the window explicitly to unit_to_window"
                    )
                center, width = fallback
        out = unit_to_window(img, center, width)
        if isinstance(out, MetaTensor):
            previous = traced.get("previous_window", (None, None)) if traced is not None else (center, width)
            out.meta["window_center"], out.meta["window_width"] = previous
        return out

    def _pop_own_operation(self, img: torch.Tensor) -> dict | None:
        """Remove and return the extra info of the most recent operation of this class, if any."""
        if not isinstance(img, MetaTensor):
            return None
        ops = img.applied_operations
        for idx in range(len(ops) - 1, -1, -1):
            if ops[idx].get(TraceKeys.CLASS_NAME) == type(self).__name__:
                return dict(ops.pop(idx).get(TraceKeys.EXTRA_INFO) or {})
        return None


class UnitIntervalTransformd(MapTransform, InvertibleTransform):
    """Dictionary wrapper of a :class:`UnitIntervalTransform`: applies it to every key.

    Args:
        keys: keys of the images to transform.
        transform: the array transform to apply.
        allow_missing_keys: do not fail when a key is absent.
    """

    backend = UnitIntervalTransform.backend

    def __init__(
        self, keys: KeysCollection, transform: UnitIntervalTransform, allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = transform

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        """Transform each key of ``data``; other keys are passed through."""
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.transform(d[key])
        return d

    def inverse(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        """Map each key back to native units."""
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.transform.inverse(d[key])
        return d
