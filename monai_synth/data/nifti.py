"""NIfTI volumes read as 2D slices.

Volumes are reoriented to the closest canonical (RAS+) orientation, so ``axis`` means the same for
every file: 0 = sagittal, 1 = coronal, 2 = axial. Each slice is returned in the radiological display
orientation that DICOM images use (axial: anterior at the top, patient right on the image left;
coronal and sagittal: superior at the top), so slices from NIfTI and from DICOM look alike.
``frame`` is the slice index along ``axis`` in the canonical volume.

Volumes are cached per process (see :func:`load_volume`): reading thousands of slices of the same files
opens each file once. Uncompressed ``.nii`` files without intensity scaling stay memory-mapped.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import nibabel as nib
import numpy as np

from .errors import BadInputReport, DataError, reject
from .folder import class_files
from .nonfinite import volume_is_usable

__all__ = ["is_nifti", "load_volume", "nifti_datalist", "nifti_files", "read_nifti_slice", "nonempty_slices"]

#: Number of volumes kept open per process; compressed volumes occupy memory, ``.nii`` files are mapped.
VOLUME_CACHE_SIZE = int(os.environ.get("MONAI_SYNTH_VOLUME_CACHE", "8"))


def is_nifti(path: str | os.PathLike) -> bool:
    """Whether ``path`` ends with ``.nii`` or ``.nii.gz`` (case-insensitive)."""
    name = Path(path).name.lower()
    return name.endswith(".nii") or name.endswith(".nii.gz")


def _file_key(path: str | os.PathLike) -> tuple[str, int, int]:
    try:
        stat = os.stat(path)
    except OSError as err:
        raise DataError(f"cannot open ({err.strerror})", path) from err
    return os.path.abspath(path), stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=VOLUME_CACHE_SIZE)
def _load_cached(path: str, mtime_ns: int, size: int) -> tuple[np.ndarray, tuple[float, float, float]]:
    del mtime_ns, size  # part of the cache key only: a rewritten file is read again
    try:
        img = nib.load(path)
        proxy = img.dataobj
        unscaled = getattr(proxy, "slope", 1.0) in (1.0, None) and getattr(proxy, "inter", 0.0) in (0.0, None)
        data = np.asanyarray(proxy) if unscaled else img.get_fdata(dtype=np.float32)
    except Exception as err:  # nibabel raises many types for damaged files
        raise DataError(f"cannot read NIfTI ({type(err).__name__}: {err})", path) from err
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim == 2:
        data = data[..., None]
    if data.ndim != 3:
        raise DataError(f"NIfTI of shape {data.shape} is not a 2D image or 3D volume", path)
    ornt = nib.orientations.io_orientation(img.affine[:4, :4] if img.affine is not None else np.eye(4))
    zooms = [float(z) for z in img.header.get_zooms()[:3]] + [1.0] * (3 - len(img.header.get_zooms()[:3]))
    canonical_zooms = [0.0, 0.0, 0.0]
    for src_axis, (dst_axis, _) in enumerate(ornt):
        canonical_zooms[int(dst_axis)] = zooms[src_axis]
    return nib.orientations.apply_orientation(data, ornt), tuple(canonical_zooms)


def load_volume(path: str | os.PathLike) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Load a NIfTI volume in canonical (RAS+) orientation, cached per process on path, mtime and size.

    Args:
        path: ``.nii`` or ``.nii.gz`` file (opened read-only).

    Returns:
        ``(volume, zooms)``: the 3D array (a 2D image becomes one slice along axis 2; intensity scaling
        applied when the header has one) and the voxel sizes along the canonical axes.

    Raises:
        DataError: unreadable file or more than three non-singleton dimensions.
    """
    return _load_cached(*_file_key(path))


def _check_axis(axis: int, path: str | os.PathLike) -> int:
    if axis not in (0, 1, 2):
        raise DataError(f"axis must be 0, 1 or 2, got {axis}", path)
    return int(axis)


def nonempty_slices(volume: np.ndarray, axis: int) -> np.ndarray:
    """Indices of the slices along ``axis`` that are not constant (min != max)."""
    others = tuple(a for a in range(3) if a != axis)
    return np.flatnonzero(np.max(volume, axis=others) != np.min(volume, axis=others))


def _display(plane: np.ndarray) -> np.ndarray:
    """Canonical plane (first in-plane axis, second in-plane axis) -> radiological display (H, W)."""
    return plane.T[::-1, ::-1]


def read_nifti_slice(path: str | os.PathLike, frame: int, axis: int = 2) -> tuple[np.ndarray, tuple[float, float]]:
    """Read one slice of a NIfTI volume.

    Args:
        path: the file.
        frame: slice index along ``axis`` of the canonical volume.
        axis: 0 (sagittal), 1 (coronal) or 2 (axial).

    Returns:
        ``(array, pixel_spacing)``: float32 (1, H, W) in the file's units, and (row, column) spacing.

    Raises:
        DataError: unreadable file, bad axis or slice index out of range.
    """
    axis = _check_axis(axis, path)
    volume, zooms = load_volume(path)
    if not 0 <= frame < volume.shape[axis]:
        raise DataError(f"slice {frame} out of range (0..{volume.shape[axis] - 1} along axis {axis})", path)
    plane = np.take(volume, frame, axis=axis)
    in_plane = [zooms[a] for a in range(3) if a != axis]
    return np.ascontiguousarray(_display(plane), dtype=np.float32)[None], (in_plane[1], in_plane[0])


def nifti_files(source: str | os.PathLike, split: str | None = "train") -> list[tuple[Path, int | None]]:
    """``(file, label)`` pairs of a NIfTI file or folder (class subfolders give labels)."""
    source = Path(source)
    if source.is_file():
        return [(source, None)]
    return class_files(source, is_nifti, split)


def nifti_datalist(source: str | os.PathLike, *, axis: int = 2, skip_empty: bool = True,
                   split: str | None = "train", report: BadInputReport | None = None, nonfinite: str = "error",
                   notes: BadInputReport | None = None) -> list[dict]:
    """One entry per slice of each NIfTI volume.

    Args:
        source: a ``.nii``/``.nii.gz`` file, or a folder of them (with optional class subfolders).
        axis: slicing axis of the canonical volume: 0 sagittal, 1 coronal, 2 axial.
        skip_empty: leave out constant slices (e.g. zero padding outside the body).
        split: split folder when the folder has a ``train/val/test`` level.
        report: where to list bad files (None: raise :class:`DataError`).
        nonfinite: ``"error"``: a volume with NaN/Inf voxels is bad (named with the count); ``"replace"``:
            kept (``build_datalist`` tells the reader to replace the values) and ``notes`` records it.
        notes: where replacements are recorded.

    Returns:
        Entries ``{"image": path, "frame": k, "axis": axis}`` plus ``"label"`` with class folders.
    """
    axis = _check_axis(axis, source)
    entries = []
    for path, label in nifti_files(source, split):
        try:
            volume, _ = load_volume(path)
        except DataError as err:
            reject(path, err.problem, report)
            continue
        if not volume_is_usable(volume, path, nonfinite, report, notes):
            continue
        frames = nonempty_slices(volume, axis) if skip_empty else range(volume.shape[axis])
        extra = {} if label is None else {"label": label}

        entries += [{"image": str(path), "frame": int(k), "axis": axis, **extra} for k in frames]
    return entries
