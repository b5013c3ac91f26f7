"""NaN and infinite pixel values: refused with the file and the count, or replaced on explicit request.

A float image (NIfTI, float TIFF, DICOM float pixel data) with NaN or +/-Inf values would train a model
whose every weight becomes NaN. The data layer therefore refuses such images by default
(``nonfinite="error"``), naming the file and how many values are bad. With ``nonfinite="replace"`` the
values are replaced (NaN and -Inf by the image's smallest finite value, +Inf by its largest, all-bad images
by 0) and the replacement is recorded: in the skipped/repaired-inputs report of ``build_datalist`` and in
the image's meta (``nonfinite_replaced``: the count).
"""

from __future__ import annotations

import os

import numpy as np

from .errors import BadInputReport, DataError, reject

__all__ = ["NONFINITE_MODES", "check_finite", "count_nonfinite", "volume_is_usable"]

NONFINITE_MODES = ("error", "replace")


def _mode(nonfinite: str) -> str:
    if nonfinite not in NONFINITE_MODES:
        raise DataError(f"nonfinite must be one of {NONFINITE_MODES}, got {nonfinite!r}")
    return nonfinite


def count_nonfinite(arr: np.ndarray) -> int:
    """Number of NaN/Inf values (0 for integer arrays)."""
    if not np.issubdtype(arr.dtype, np.floating):
        return 0
    return int(arr.size - np.count_nonzero(np.isfinite(arr)))


def _problem(count: int, size: int) -> str:
    return (f"{count} of {size} values are NaN or infinite; fix the file, or pass nonfinite='replace' "
            "(--nonfinite replace) to replace them by the image's finite extremes")


def check_finite(arr: np.ndarray, path: str | os.PathLike, nonfinite: str = "error") -> tuple[np.ndarray, int]:
    """Refuse or repair an image holding NaN/Inf values.

    Args:
        arr: the image in native units.
        path: its file, for the message.
        nonfinite: ``"error"`` (raise) or ``"replace"``.

    Returns:
        ``(array, replaced)``: the array (a repaired copy when values were replaced) and the count replaced.

    Raises:
        DataError: NaN/Inf values with ``nonfinite="error"``, naming the file and the count.
    """
    count = count_nonfinite(arr)
    if count == 0:
        return arr, 0
    if _mode(nonfinite) == "error":
        raise DataError(_problem(count, arr.size), path)
    finite = arr[np.isfinite(arr)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    return np.nan_to_num(arr, nan=low, posinf=high, neginf=low), count


def volume_is_usable(volume: np.ndarray, path: str | os.PathLike, nonfinite: str,
                     report: BadInputReport | None, notes: BadInputReport | None) -> bool:
    """Datalist-time check of a loaded volume: False (rejected, or raised) when it holds NaN/Inf.

    Args:
        volume: the loaded array.
        path: its file.
        nonfinite: ``"error"`` or ``"replace"``.
        report: where bad files are listed when skipping them (None: raise).
        notes: where repairs are recorded with ``nonfinite="replace"`` (None: not recorded).
    """
    count = count_nonfinite(volume)
    if count == 0:
        return True
    if _mode(nonfinite) == "error":
        reject(path, _problem(count, volume.size), report)
        return False
    if notes is not None:
        notes.add(path, f"{count} NaN/Inf values replaced by the slice's finite extremes (nonfinite='replace')")
    return True
