"""Refuse a series an application cannot restore as a whole: slices of different sizes, or missing slices."""

from __future__ import annotations

import os

import numpy as np

from monai_synth.data.dicom import DicomSeries, usable_slices
from monai_synth.data.errors import DataError

__all__ = ["check_complete_series"]

_GAP_FACTOR = 1.5  # a step this many times the usual slice distance means slices are missing


def _positions(series: DicomSeries) -> list[float] | None:
    """Slice positions along the normal, in order (None when the geometry is unknown)."""
    normal, pairs = series.normal, series.slices()
    if normal is None or any(inst.positions[f] is None for inst, f in pairs):
        return None
    return [float(np.dot(inst.positions[f], normal)) for inst, f in pairs]


def check_complete_series(series: DicomSeries, source: str | os.PathLike) -> None:
    """Raise :class:`DataError` for mixed slice sizes, unreadable slices, or gaps in the slice positions
    (or in the InstanceNumbers, when the positions are unknown).

    Args:
        series: the scanned series.
        source: the input folder, named in the message.
    """
    usable_slices(series)  # raises on mixed sizes and on files without (or with truncated) pixel data
    positions = _positions(series)
    name = f"series {series.series_uid} ('{series.description}')"
    if positions is not None and len(positions) > 2:
        steps = np.abs(np.diff(positions))
        usual = float(np.median(steps))
        gaps = [(positions[i], positions[i + 1]) for i, s in enumerate(steps) if s > _GAP_FACTOR * usual]
        if gaps:
            a, b = gaps[0]
            raise DataError(f"{name} has missing slices: {len(gaps)} gap(s), the first between positions "
                            f"{a:.2f} and {b:.2f} mm (usual slice distance {usual:.2f} mm)", source)
        return
    numbers = sorted(inst.instance_number for inst in series.instances if inst.instance_number is not None)
    if numbers and numbers[-1] - numbers[0] + 1 != len(numbers):
        raise DataError(f"{name} has missing slices: InstanceNumbers {numbers[0]}..{numbers[-1]} "
                        f"but {len(numbers)} files", source)
