"""Intensity transforms: native units (HU, raw MR values, 0..255) <-> [-1, 1], invertible, MONAI style.

Array versions (``Transform`` + ``InvertibleTransform``) take numpy arrays, tensors or the loader's
``MetaTensor`` (C, H, W); dictionary versions (``MapTransform``) end in ``d``. Every transform
records the window it applied in the meta (``window_center``, ``window_width``) and in
``applied_operations``, so generated images can be written back in native units.

Typical use::

    from monai_synth.transforms import WindowIntensityd, make_intensity_transform

    norm = WindowIntensityd(keys=("image",), preset="liver")   # CT: [-125, 225] HU -> [-1, 1]
    item = norm(read(entry))
    hu = norm.inverse(item)["image"]

    norm = make_intensity_transform("auto")   # value range / CT window / percentiles per image
"""

from .degradation import (
    SR_FACTORS,
    DegradeInpaint,
    DegradeInpaintd,
    DegradeNoise,
    DegradeNoised,
    DegradeResolution,
    DegradeResolutiond,
    Degradation,
    downsample,
    make_degradation,
    upsample,
)
from .auto import INTENSITY_MODES, AutoIntensity, AutoIntensityd, make_intensity_transform
from .intensity import UnitIntervalTransform, UnitIntervalTransformd, header_number, unit_to_window, window_to_unit
from .percentile import PercentileNormalize, PercentileNormalized
from .value_range import RangeToSymmetric, RangeToSymmetricd
from .window import WINDOW_PRESETS, WindowIntensity, WindowIntensityd, resolve_window

__all__ = [
    "SR_FACTORS",
    "DegradeInpaint",
    "DegradeInpaintd",
    "DegradeNoise",
    "DegradeNoised",
    "DegradeResolution",
    "DegradeResolutiond",
    "Degradation",
    "downsample",
    "make_degradation",
    "upsample",
    "INTENSITY_MODES",
    "WINDOW_PRESETS",
    "AutoIntensity",
    "AutoIntensityd",
    "PercentileNormalize",
    "PercentileNormalized",
    "RangeToSymmetric",
    "RangeToSymmetricd",
    "UnitIntervalTransform",
    "UnitIntervalTransformd",
    "WindowIntensity",
    "WindowIntensityd",
    "header_number",
    "make_intensity_transform",
    "resolve_window",
    "unit_to_window",
    "window_to_unit",
]
