"""NIfTI-1 writer for 2D images and 3D volumes through nibabel.

MONAI 1.6.1's ``SaveImage`` cannot write 2D NIfTI (MONAI issue 9068), hence nibabel directly.
Array index order is kept: voxel ``(i, j)`` of the file is ``image[i, j]`` (row index first, as
the project's ``(C, H, W)`` images), and a volume ``(S, H, W)`` is stored as ``(H, W, S)`` so that
slice ``s`` lies along the third NIfTI axis (the datalist's default ``axis=2``).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import nibabel as nib
import numpy as np

from monai_synth.io.arrays import check_finite, to_numpy
from monai_synth.io.atomic import atomic_open

if TYPE_CHECKING:
    import torch

__all__ = ["affine_from_spacing", "write_nifti"]


def affine_from_spacing(
    pixel_spacing: Sequence[float] | None = None,
    slice_spacing: float | None = None,
    origin: Sequence[float] | None = None,
) -> np.ndarray:
    """Build a diagonal 4x4 voxel-to-world affine (millimetres).

    Args:
        pixel_spacing: ``(row spacing, column spacing)`` as in DICOM PixelSpacing, i.e. the step
            along array axis 0 then axis 1; 1 mm when ``None``.
        slice_spacing: step along the third axis; 1 mm when ``None``.
        origin: world position of voxel ``(0, 0, 0)``; zero when ``None``.
    """
    rows, cols = (1.0, 1.0) if pixel_spacing is None else (float(v) for v in pixel_spacing)
    affine = np.diag([rows, cols, 1.0 if slice_spacing is None else float(slice_spacing), 1.0])
    if origin is not None:
        affine[:3, 3] = np.asarray(origin, dtype=np.float64)
    if np.any(np.diag(affine)[:3] <= 0):
        raise ValueError(f"spacings must be positive, got pixel_spacing={pixel_spacing}, slice_spacing={slice_spacing}")
    return affine


def _nifti_layout(array: np.ndarray, what: str) -> np.ndarray:
    """``(H, W)`` / ``(1, H, W)`` -> 2D ``(H, W)``; ``(S, H, W)`` -> 3D ``(H, W, S)``."""
    if array.ndim == 2:
        return array
    if array.ndim == 3:
        return array[0] if array.shape[0] == 1 else np.moveaxis(array, 0, -1)
    raise ValueError(f"{what}: expected (H, W), (1, H, W) or a volume (S, H, W), got shape {array.shape}")


def _nifti_bytes(image: nib.Nifti1Image, path: Path) -> bytes:
    """Serialise ``image``; gzip (with a fixed timestamp) when ``path`` ends in ``.nii.gz``."""
    raw = image.to_bytes()
    if path.name.endswith(".nii.gz"):
        return gzip.compress(raw, mtime=0)
    if path.suffix == ".nii":
        return raw
    raise ValueError(f"{os.fspath(path)}: NIfTI output must end in .nii or .nii.gz")


def write_nifti(
    image: torch.Tensor | np.ndarray,
    path: str | os.PathLike,
    affine: np.ndarray | None = None,
    *,
    pixel_spacing: Sequence[float] | None = None,
    slice_spacing: float | None = None,
    dtype: np.dtype | type = np.float32,
    inputs: Iterable[str | os.PathLike | None] = (),
) -> Path:
    """Write a 2D image or a 3D volume as NIfTI-1, atomically.

    Args:
        image: ``(H, W)`` or ``(1, H, W)`` for a 2D image (stored 2D), or ``(S, H, W)`` for a volume
            of ``S`` slices (stored as ``(H, W, S)``). Values are written as they are (native units).
        path: output ``.nii`` or ``.nii.gz`` file.
        affine: 4x4 voxel-to-world matrix; exclusive with the spacings.
        pixel_spacing: ``(row, column)`` spacing in mm used to build the affine when given.
        slice_spacing: slice step in mm (volumes) used to build the affine.
        dtype: stored data type (float32 by default; integer types are rounded first).
        inputs: input files that must not be overwritten.

    Returns:
        The written path.

    Raises:
        ValueError: bad shape, suffix, affine, non-finite values, or ``path`` is an input file.
    """
    what = os.fspath(path)
    array = _nifti_layout(to_numpy(image), what)
    check_finite(array, what)
    if affine is not None and (pixel_spacing is not None or slice_spacing is not None):
        raise ValueError(f"{what}: give either affine or pixel_spacing/slice_spacing, not both")
    affine = affine_from_spacing(pixel_spacing, slice_spacing) if affine is None else np.asarray(affine, float)
    if affine.shape != (4, 4):
        raise ValueError(f"{what}: affine must be 4x4, got {affine.shape}")
    if np.issubdtype(np.dtype(dtype), np.integer):
        array = np.rint(array)
    nifti = nib.Nifti1Image(array.astype(dtype), affine)
    nifti.header.set_xyzt_units("mm")
    payload = _nifti_bytes(nifti, Path(path))
    with atomic_open(path, inputs=inputs) as handle:
        handle.write(payload)
    return Path(path)
