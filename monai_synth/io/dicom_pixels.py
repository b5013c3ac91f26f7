"""Stored pixel values for DICOM: unsigned 16-bit integers plus a Modality LUT (slope, intercept).

Native values (HU for CT) survive the round trip ``stored * RescaleSlope + RescaleIntercept``:

* integer-valued data, CT (rounded to whole HU) and MR restorations (whole source units) keep slope 1;
  the intercept is the smaller of
  0 (-1024 for CT, the usual ``stored = HU + 1024``) and the data minimum, so stored values are >= 0;
* other data (e.g. MR intensities, floats in [0, 1]) use the full 16-bit range: slope
  ``(max - min) / 65535`` and intercept ``min``, an error of at most half a slope.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydicom.valuerep import format_number_as_ds

__all__ = ["Rescale", "choose_rescale", "encode_grayscale", "encode_rgb"]

_TOP = 65535


@dataclass(frozen=True)
class Rescale:
    """Modality LUT of a grayscale image: ``native = stored * slope + intercept``.

    Attributes:
        slope: RescaleSlope, exactly representable as a DICOM DS string.
        intercept: RescaleIntercept, exactly representable as a DICOM DS string.
        rescale_type: RescaleType, ``"HU"`` for CT, ``"US"`` (unspecified) otherwise.
    """

    slope: float
    intercept: float
    rescale_type: str


def _ds(value: float) -> float:
    """Round ``value`` to what a 16-character DICOM DS string holds."""
    return float(format_number_as_ds(float(value)))


def _integer_rescale(values: np.ndarray, modality: str) -> Rescale | None:
    """Slope-1 rescale for integer units, or ``None`` when the range exceeds 16 bits."""
    floor = -1024 if modality == "CT" else 0
    intercept = min(floor, math.floor(float(np.rint(values).min())))
    if float(np.rint(values).max()) - intercept > _TOP:
        return None
    return Rescale(1.0, float(intercept), "HU" if modality == "CT" else "US")


def _linear_rescale(values: np.ndarray, modality: str) -> Rescale:
    """Rescale spreading ``[min, max]`` over ``0 .. 65535``."""
    lo, hi = float(values.min()), float(values.max())
    slope = _ds((hi - lo) / _TOP) if hi > lo else 1.0
    if slope <= 0:
        slope = 1.0
    return Rescale(slope, _ds(lo), "HU" if modality == "CT" else "US")


def choose_rescale(values: np.ndarray, modality: str = "OT", whole_units: bool | None = None) -> Rescale:
    """Choose a Modality LUT that stores ``values`` as uint16 with little loss.

    Args:
        values: native values of one image or of a whole series (so that a series shares one LUT).
        modality: DICOM Modality; ``"CT"`` uses RescaleType ``"HU"``.
        whole_units: round to whole native units (slope 1); by default for CT and integer-valued data.
    """
    values = np.asarray(values, dtype=np.float64)
    whole_units = modality == "CT" if whole_units is None else whole_units
    integral = whole_units or bool(np.all(values == np.rint(values)))
    rescale = _integer_rescale(values, modality) if integral else None
    return rescale if rescale is not None else _linear_rescale(values, modality)


def encode_grayscale(values: np.ndarray, rescale: Rescale) -> np.ndarray:
    """Stored uint16 values for native ``values`` under ``rescale`` (rounded, clipped)."""
    stored = np.rint((np.asarray(values, dtype=np.float64) - rescale.intercept) / rescale.slope)
    return np.clip(stored, 0, _TOP).astype(np.uint16)


def encode_rgb(values: np.ndarray) -> np.ndarray:
    """Stored uint8 ``(H, W, 3)`` values for an RGB image given in the display range 0..255."""
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)
