"""Pick the intensity normalisation from what the loader knows about each image.

``auto``: the source's natural value range when it has one (rasters, MedMNIST, phantom), else a CT
window for CT (``modality == "CT"``), else per-image percentiles (MR, NIfTI of unknown units).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import InvertibleTransform, MapTransform, Transform
from monai.utils import TraceKeys

from .intensity import UnitIntervalTransform, UnitIntervalTransformd, _as_image, _meta_window, unit_to_window
from .percentile import PercentileNormalize, PercentileNormalized
from .value_range import RangeToSymmetric, RangeToSymmetricd, _range_of
from .window import WindowIntensity, WindowIntensityd

__all__ = ["AutoIntensity", "AutoIntensityd", "INTENSITY_MODES", "make_intensity_transform"]

#: Modes accepted by :func:`make_intensity_transform`.
INTENSITY_MODES = ("auto", "window", "percentile", "range")

#: CT window used by ``auto`` when none is given.
DEFAULT_CT_WINDOW = "abdomen"

Window = str | Sequence[float] | None


def _window_kwargs(window: Window = None, level: float | None = None, width: float | None = None) -> dict:
    """Keyword arguments of :class:`WindowIntensity` for a window given as a preset name, ``"header"``,
    a (level, width) pair, or level/width. Nothing at all means the header's window."""
    if window is not None and (level is not None or width is not None):
        raise ValueError(f"give either window={window!r} or level/width, not both")
    if isinstance(window, str):
        return {"from_header": True} if window.lower() == "header" else {"preset": window}
    if window is not None:
        pair = [float(v) for v in window]
        if len(pair) != 2:
            raise ValueError(f"window must be a preset name, 'header' or (level, width), got {window!r}")
        return {"level": pair[0], "width": pair[1]}
    if level is not None or width is not None:
        return {"level": level, "width": width}
    return {"from_header": True}


class AutoIntensity(InvertibleTransform, Transform):
    """Normalise each image to [-1, 1] with the mapping that suits its source.

    * meta ``value_range`` present -> :class:`RangeToSymmetric`;
    * meta ``modality == "CT"`` -> :class:`WindowIntensity` with the given window (preset name,
      ``"header"``, (level, width) pair, or level/width; default the ``abdomen`` preset (40, 400));
    * otherwise -> :class:`PercentileNormalize` (``lower``, ``upper``).

    The inverse undoes whichever was applied (from ``applied_operations``, else the meta window).

    Args:
        window: CT window: preset name, ``"header"`` or a (level, width) pair.
        level: CT window level (with ``width``), instead of ``window``.
        width: CT window width (with ``level``).
        lower: lower percentile for images without range or CT window.
        upper: upper percentile.
    """

    backend = UnitIntervalTransform.backend

    def __init__(
        self,
        window: Window = None,
        level: float | None = None,
        width: float | None = None,
        lower: float = 0.5,
        upper: float = 99.5,
    ) -> None:
        if window is None and level is None and width is None:
            window = DEFAULT_CT_WINDOW
        self.range = RangeToSymmetric()
        self.window = WindowIntensity(**_window_kwargs(window, level, width))
        self.percentile = PercentileNormalize(lower, upper)

    def select(self, img: torch.Tensor) -> UnitIntervalTransform:
        """The transform ``auto`` applies to this image."""
        meta = img.meta if isinstance(img, MetaTensor) else {}
        if _range_of(meta.get("value_range")) is not None:
            return self.range
        if str(meta.get("modality") or "").upper() == "CT":
            return self.window
        return self.percentile

    def __call__(self, img: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Normalise ``img`` to [-1, 1] with the selected transform."""
        img = _as_image(img)
        return self.select(img)(img)

    def inverse(self, data: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Undo the most recent normalisation applied by this transform (or use the meta window)."""
        img = _as_image(data)
        parts = {type(t).__name__: t for t in (self.range, self.window, self.percentile)}
        if isinstance(img, MetaTensor):
            for op in reversed(img.applied_operations):
                name = op.get(TraceKeys.CLASS_NAME)
                if name in parts:
                    return parts[name].inverse(img)
        center, width = _meta_window(img)
        if center is None or width is None:
            raise ValueError("AutoIntensity.inverse: the image carries no window; pass it to unit_to_window")
        return unit_to_window(img, center, width)


class AutoIntensityd(UnitIntervalTransformd):
    """Dictionary version of :class:`AutoIntensity`.

    Args:
        keys: keys of the images to normalise.
        window, level, width, lower, upper: as for :class:`AutoIntensity`.
        allow_missing_keys: do not fail when a key is absent.
    """

    backend = AutoIntensity.backend

    def __init__(
        self,
        keys: KeysCollection = ("image",),
        window: Window = None,
        level: float | None = None,
        width: float | None = None,
        lower: float = 0.5,
        upper: float = 99.5,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, AutoIntensity(window, level, width, lower, upper), allow_missing_keys)


def make_intensity_transform(
    mode: str = "auto",
    keys: KeysCollection = ("image",),
    window: Window = None,
    level: float | None = None,
    width: float | None = None,
) -> MapTransform:
    """The dictionary transform that normalises images to [-1, 1] for a mode.

    Args:
        mode: ``"auto"`` (value range when present, else a CT window for CT, else percentiles),
            ``"window"`` (CT window: ``window`` preset name / ``"header"`` / (level, width) pair, or
            ``level`` + ``width``; nothing given = the DICOM header's window), ``"percentile"``
            (0.5..99.5 per image) or ``"range"`` (meta ``value_range``).
        keys: keys of the images.
        window: CT window for ``"window"`` and ``"auto"`` modes.
        level: CT window level, with ``width``, instead of ``window``.
        width: CT window width.

    Returns:
        an invertible MONAI ``MapTransform``.

    Raises:
        ValueError: unknown mode or invalid window.
    """
    name = str(mode).lower()
    if name == "auto":
        return AutoIntensityd(keys, window=window, level=level, width=width)
    if name == "window":
        return WindowIntensityd(keys, **_window_kwargs(window, level, width))
    if name == "percentile":
        return PercentileNormalized(keys)
    if name == "range":
        return RangeToSymmetricd(keys)
    raise ValueError(f"unknown intensity mode {mode!r}; choose one of {INTENSITY_MODES}")
