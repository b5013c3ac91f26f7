"""MedMNIST ``.npz`` archives: arrays ``<split>_images`` (N, H, W[, 3]) uint8 and ``<split>_labels`` (N, 1).

The archive is read with :func:`numpy.load` (no pickles), not MedMNIST's loader class, which rejects
archives whose sizes differ from the official ones. Arrays are cached per process.
"""

from __future__ import annotations

import functools
import os
import zipfile

import numpy as np

from .errors import BadInputReport, DataError, reject

__all__ = ["NPZ_SPLITS", "load_npz_split", "npz_datalist", "npz_splits", "read_npz_image"]

#: Accepted split names and the key prefix they map to.
NPZ_SPLITS: dict[str, str] = {"train": "train", "training": "train", "val": "val", "valid": "val",
                              "validation": "val", "test": "test", "testing": "test"}


def npz_splits(path: str | os.PathLike) -> list[str]:
    """Splits present in an archive (prefixes of its ``*_images`` arrays).

    Raises:
        DataError: when the file is not a readable ``.npz`` archive.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            return sorted(k[: -len("_images")] for k in archive.files if k.endswith("_images"))
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise DataError(f"not a readable .npz archive ({err})", path) from err


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int, size: int, split: str) -> tuple[np.ndarray, np.ndarray]:
    del mtime_ns, size  # cache key only
    try:
        with np.load(path, allow_pickle=False) as archive:
            if f"{split}_images" not in archive.files:
                found = ", ".join(k for k in archive.files if k.endswith("_images")) or "none"
                raise DataError(f"no '{split}_images' array (found: {found})", path)
            images = archive[f"{split}_images"]
            labels = archive[f"{split}_labels"] if f"{split}_labels" in archive.files else None
    except DataError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise DataError(f"not a readable .npz archive ({err})", path) from err
    return images, _check_arrays(images, labels, split, path)


def _check_arrays(images: np.ndarray, labels: np.ndarray | None, split: str, path: str) -> np.ndarray:
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (1, 3)):
        raise DataError(f"'{split}_images' has shape {images.shape}; expected (N, H, W) or (N, H, W, 3)", path)
    if labels is None:
        raise DataError(f"no '{split}_labels' array", path)
    if labels.ndim == 2 and labels.shape[1] != 1:
        raise DataError(f"'{split}_labels' has {labels.shape[1]} columns (multi-label); one integer class "
                        "per image is needed", path)
    labels = labels.reshape(-1)
    if len(labels) != len(images):
        raise DataError(f"{len(images)} images but {len(labels)} labels in split '{split}'", path)
    if not np.issubdtype(labels.dtype, np.integer):
        if not (np.issubdtype(labels.dtype, np.floating) and np.all(np.mod(labels, 1) == 0)):
            raise DataError(f"'{split}_labels' are not integers (dtype {labels.dtype})", path)
    return labels.astype(np.int64)


def _split_name(split: str | None, path: str | os.PathLike) -> str:
    name = NPZ_SPLITS.get(str(split or "train").lower())
    if name is None:
        raise DataError(f"unknown split '{split}' (use train, val or test)", path)
    return name


def load_npz_split(path: str | os.PathLike, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of one split, cached per process on path, mtime and size.

    Args:
        path: the ``.npz`` file.
        split: ``train``, ``val`` or ``test``.

    Returns:
        ``(images, labels)``: images (N, H, W) or (N, H, W, C) as stored, labels int64 (N,).

    Raises:
        DataError: unreadable archive, missing split, or labels that are not one integer per image.
    """
    split = _split_name(split, path)
    try:
        stat = os.stat(path)
    except OSError as err:
        raise DataError(f"cannot open ({err.strerror})", path) from err
    return _load_cached(os.path.abspath(path), stat.st_mtime_ns, stat.st_size, split)


def read_npz_image(path: str | os.PathLike, split: str, index: int) -> np.ndarray:
    """One image of a split as (C, H, W) in the stored dtype (uint8 for MedMNIST).

    Raises:
        DataError: out-of-range index or the problems of :func:`load_npz_split`.
    """
    images, _ = load_npz_split(path, split)
    if not 0 <= index < len(images):
        raise DataError(f"index {index} out of range for split '{split}' ({len(images)} images)", path)
    image = images[index]
    return np.ascontiguousarray(image[None] if image.ndim == 2 else np.moveaxis(image, -1, 0))


def npz_datalist(path: str | os.PathLike, *, split: str = "train",
                 report: BadInputReport | None = None) -> list[dict]:
    """One entry per image of the chosen split.

    Args:
        path: the ``.npz`` file.
        split: ``train``, ``val`` or ``test``.
        report: where to list the archive when it is unusable (None: raise :class:`DataError`).

    Returns:
        Entries ``{"image": path, "index": i, "split": split, "label": int}``.
    """
    try:
        _, labels = load_npz_split(path, split)
    except DataError as err:
        reject(path, err.problem, report)
        return []
    name, path = _split_name(split, path), str(path)
    return [{"image": path, "index": i, "split": name, "label": int(label)} for i, label in enumerate(labels)]
