"""Loader transforms: read any datalist entry into a ``MetaTensor`` (C, H, W) float32 in native units.

Native units: rasters keep their stored values (0..255, 0..65535), DICOM comes out after the modality LUT
(CT in HU; MONOCHROME1 inverted), NIfTI as stored (with the header's scaling), MedMNIST ``.npz`` as stored
(uint8 values), in-memory arrays (the phantom) as given. Intensity normalisation is a separate transform
(:mod:`monai_synth.transforms`), driven by the meta keys set here:

``filename_or_obj``, ``source_kind`` (``raster|dicom|nifti|npz|phantom``), ``value_range`` (the dtype's
natural range for rasters and npz, (0, 1) for float arrays, else None), ``modality``, ``window_center``,
``window_width`` and, for DICOM, ``pixel_spacing``, ``image_position``, ``image_orientation``,
``series_uid``, ``study_uid``; ``nonfinite_replaced`` (count of NaN/Inf values replaced, 0 when none).

Images holding NaN/Inf values are refused with the file and the count (:mod:`monai_synth.data.nonfinite`)
unless the reader or the entry says ``nonfinite="replace"``.

Importing this module registers a collate rule for ``None`` in PyTorch's default collate map (as MONAI
registers ``MetaTensor``), so that batches of images whose meta holds None values (e.g. no window in the
header) collate: all-None gives None, a mix gives the list of values.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform, Transform
from torch.utils.data._utils.collate import default_collate_fn_map

from .dicom import read_dicom_frame
from .errors import DataError
from .folder import read_raster
from .medmnist import read_npz_image
from .nifti import load_volume, read_nifti_slice
from .nonfinite import check_finite
from .sources import image_file_kind

__all__ = ["ReadImage2D", "ReadImage2Dd", "read_entry"]

#: ITU-R BT.601 luma weights used when ``grayscale=True`` meets an RGB image.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def _collate_none(batch: Sequence[Any], *, collate_fn_map: dict | None = None) -> Any:
    del collate_fn_map
    return None if all(item is None for item in batch) else list(batch)


default_collate_fn_map.setdefault(type(None), _collate_none)


def _dtype_range(dtype: np.dtype) -> tuple[float, float] | None:
    if dtype == np.bool_:
        return (0.0, 1.0)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return (float(info.min), float(info.max))
    return None


def _base_meta(name: str, kind: str, value_range: tuple[float, float] | None) -> dict[str, Any]:
    return {"filename_or_obj": name, "source_kind": kind, "value_range": value_range, "modality": None,
            "window_center": None, "window_width": None}


def _read_array(value: np.ndarray | torch.Tensor, name: str) -> tuple[np.ndarray, dict[str, Any]]:
    arr = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise DataError(f"in-memory image of shape {arr.shape}; expected (H, W) or (C, H, W)", name)
    value_range = (0.0, 1.0) if np.issubdtype(arr.dtype, np.floating) else _dtype_range(arr.dtype)
    return arr, _base_meta(name, "phantom", value_range)


def _nifti_frame(path: str, entry: Mapping, axis: int) -> int:
    if entry.get("frame") is not None:
        return int(entry["frame"])
    volume, _ = load_volume(path)
    if volume.shape[axis] != 1:
        raise DataError(f"entry has no 'frame' (slice index) for a volume of {volume.shape[axis]} slices", path)
    return 0


def _read_file(path: str, entry: Mapping, size_hint: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    if not os.path.isfile(path):
        raise DataError("file not found", path)
    kind = image_file_kind(path)
    if kind == "raster":
        arr, value_range = read_raster(path, size_hint)
        return arr, _base_meta(path, kind, value_range)
    if kind == "npz":
        if entry.get("index") is None:
            raise DataError("entry has no 'index' (row of the .npz split)", path)
        split = str(entry.get("split") or "train")
        arr = read_npz_image(path, split, int(entry["index"]))
        return arr, {**_base_meta(path, kind, _dtype_range(arr.dtype)), "split": split, "index": int(entry["index"])}
    if kind == "nifti":
        axis = int(entry.get("axis", 2) if entry.get("axis") is not None else 2)
        frame = _nifti_frame(path, entry, axis)
        arr, spacing = read_nifti_slice(path, frame, axis)
        return arr, {**_base_meta(path, kind, None), "pixel_spacing": spacing, "frame": frame, "axis": axis}
    arr, meta = read_dicom_frame(path, int(entry.get("frame") or 0))
    return arr, {**_base_meta(path, kind, None), **meta}


def read_entry(entry: Mapping | str | os.PathLike | np.ndarray | torch.Tensor, key: str = "image",
               size_hint: int | None = None, nonfinite: str = "error") -> tuple[np.ndarray, dict[str, Any]]:
    """Read the image at ``entry[key]`` (or ``entry`` itself when it is a path or an array).

    The other keys of a dict entry (``frame``, ``axis``, ``index``, ``split``) say which 2D image of the
    file to read; its ``nonfinite`` key, when present, overrides the argument.

    Args:
        entry: a datalist entry, a path or an array.
        key: the entry's key holding the image.
        size_hint: the side the image will be resized to: large rasters are reduced while read.
        nonfinite: ``"error"`` (NaN/Inf values raise, naming the file and the count) or ``"replace"``.

    Returns:
        ``(array (C, H, W) in native units, meta dict)``.

    Raises:
        DataError: missing or unreadable file, an entry that lacks what its file kind needs, an image over
            the pixel limit, or NaN/Inf values with ``nonfinite="error"``.
    """
    context: Mapping = entry if isinstance(entry, Mapping) else {}
    value = entry[key] if isinstance(entry, Mapping) else entry
    if isinstance(value, (np.ndarray, torch.Tensor)):
        name = str(context.get("filename_or_obj", "phantom"))
        arr, meta = _read_array(value, name)
    elif isinstance(value, (str, os.PathLike)):
        name = str(Path(value))
        arr, meta = _read_file(name, context, size_hint)
    else:
        raise DataError(f"'{key}' must be a path or an array, got {type(value).__name__}")
    arr, replaced = check_finite(arr, name, str(context.get("nonfinite") or nonfinite))
    return arr, {**meta, "nonfinite_replaced": replaced}


def _to_gray(arr: np.ndarray) -> np.ndarray:
    if arr.shape[0] != 3:
        return arr
    weights = np.asarray(LUMA_WEIGHTS, dtype=np.float32).reshape(3, 1, 1)
    return (arr.astype(np.float32) * weights).sum(axis=0, keepdims=True)


class ReadImage2D(Transform):
    """Read one datalist entry (or a path, or an array) into a ``MetaTensor`` (C, H, W) float32.

    Args:
        grayscale: convert RGB images to one channel (ITU-R BT.601 luma); grayscale images always have
            one channel.
        size_hint: the side images will be resized to (e.g. the bundle's ``image_size``): rasters at least
            twice as large are reduced while read (JPEG at reduced DCT scale), saving memory and time.
        nonfinite: ``"error"`` or ``"replace"`` for images holding NaN/Inf values (an entry's own
            ``nonfinite`` key wins).

    Example::

        reader = ReadImage2D()
        image = reader({"image": "series/IM0001", "frame": 0})   # MetaTensor (1, 512, 512), HU
        image.meta["window_center"]
    """

    def __init__(self, grayscale: bool = False, size_hint: int | None = None, nonfinite: str = "error") -> None:
        self.grayscale = grayscale
        self.size_hint = size_hint
        self.nonfinite = nonfinite

    def __call__(self, entry: Mapping | str | os.PathLike | np.ndarray | torch.Tensor,
                 key: str = "image") -> MetaTensor:
        """Read ``entry[key]`` (dict entries) or ``entry`` (a path or an array)."""
        arr, meta = read_entry(entry, key, self.size_hint, self.nonfinite)
        if self.grayscale:
            arr = _to_gray(arr)
        data = torch.from_numpy(np.array(arr, dtype=np.float32, copy=True))
        return MetaTensor(data, meta=meta)


class ReadImage2Dd(MapTransform):
    """Dictionary version of :class:`ReadImage2D`: replaces each path (or array) under ``keys`` by its image.

    Args:
        keys: keys holding paths or arrays (e.g. ``("image",)`` or ``("image", "mask")``); the entry's
            ``frame``, ``axis``, ``index`` and ``split`` apply to all of them.
        grayscale: convert RGB images to one channel.
        allow_missing_keys: do not fail when a key is absent.
        size_hint: as for :class:`ReadImage2D`.
        nonfinite: as for :class:`ReadImage2D`.
    """

    def __init__(self, keys: KeysCollection = ("image",), grayscale: bool = False,
                 allow_missing_keys: bool = False, size_hint: int | None = None, nonfinite: str = "error") -> None:
        super().__init__(keys, allow_missing_keys)
        self.reader = ReadImage2D(grayscale=grayscale, size_hint=size_hint, nonfinite=nonfinite)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        """Return a copy of ``data`` with the images read."""
        out = dict(data)
        for key in self.key_iterator(out):
            out[key] = self.reader(data, key=key)
        return out
