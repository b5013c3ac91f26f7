"""Folders of images with one subfolder per class, and the raster (PNG/JPEG/TIFF) reader.

Layout::

    root/                      or    root/train/<class>/...   (a split level above the classes)
      <class A>/img001.png                root/val/<class>/...
      <class B>/sub/img002.png            root/test/<class>/...

Labels are the index of the class folder in the sorted list of class names (Python ``sorted``, the same
rule as ``torchvision.datasets.ImageFolder``). A folder of images without class subfolders gives entries
without labels. Hidden files and folders (names starting with ``.``, e.g. macOS ``._x.png``) are ignored.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import BadInputReport, DataError, reject
from .image_limits import block_reduce, draft_jpeg, open_image, reduction_factor

__all__ = [
    "RASTER_SUFFIXES",
    "SPLIT_FOLDERS",
    "iter_files",
    "is_raster",
    "find_classes",
    "class_files",
    "raster_problem",
    "raster_datalist",
    "read_raster",
]

logger = logging.getLogger(__name__)

#: File name endings read as raster images.
RASTER_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff"})
#: Folder names recognised as a split level above the class folders, mapped to the split they hold.
SPLIT_FOLDERS: dict[str, str] = {"train": "train", "training": "train", "val": "val", "valid": "val",
                                 "validation": "val", "test": "test", "testing": "test"}
_PIL_FORMATS = {"PNG", "JPEG", "MPO", "TIFF"}


def iter_files(root: str | os.PathLike) -> Iterator[Path]:
    """Yield every non-hidden file under ``root``, recursively, in sorted (deterministic) order.

    Args:
        root: folder to walk.
    """
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder) / name


def is_raster(path: str | os.PathLike) -> bool:
    """Whether ``path`` has a PNG, JPEG or TIFF file name ending (case-insensitive)."""
    return Path(path).suffix.lower() in RASTER_SUFFIXES


def _subfolders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _has_match(folder: Path, match: Callable[[Path], bool]) -> bool:
    return any(match(p) for p in iter_files(folder))


def _split_root(root: Path, split: str | None, match: Callable[[Path], bool]) -> tuple[list[Path], Path | None]:
    """Detect a ``train/val/test`` level above the class folders.

    Returns:
        The folders that hold class folders for all splits (to agree on class names) and the one for
        ``split`` (None when the layout has no split level).
    """
    subs = [p for p in _subfolders(root) if _has_match(p, match)]
    if not subs or any(p.name.lower() not in SPLIT_FOLDERS for p in subs):
        return [root], None
    if not all(_subfolders(p) for p in subs):
        return [root], None  # e.g. root/train/*.png: "train" is a class, not a split
    wanted = SPLIT_FOLDERS.get((split or "train").lower(), split)
    chosen = [p for p in subs if SPLIT_FOLDERS[p.name.lower()] == wanted]
    if not chosen:
        found = ", ".join(p.name for p in subs)
        raise DataError(f"no '{split}' split folder (found: {found})", root)
    return subs, chosen[0]


def find_classes(root: str | os.PathLike, match: Callable[[Path], bool] = is_raster,
                 split: str | None = "train") -> list[str]:
    """Class names of a folder source: sorted names of subfolders holding matching files.

    With a ``train/val/test`` level, the names are the union over all splits, so that a class missing
    from one split does not shift the labels of the others.

    Args:
        root: the folder.
        match: which files count as images.
        split: the split (only used to validate a split level).

    Returns:
        Sorted class names; empty when the images sit directly in ``root`` (no labels).
    """
    roots, _ = _split_root(Path(root), split, match)
    names = {p.name for r in roots for p in _subfolders(r) if _has_match(p, match)}
    return sorted(names)


def class_files(root: str | os.PathLike, match: Callable[[Path], bool] = is_raster,
                split: str | None = "train") -> list[tuple[Path, int | None]]:
    """List ``(file, label)`` pairs of a folder source; label is None without class folders.

    Args:
        root: the folder.
        match: which files count as images.
        split: which split folder to read when the layout has a ``train/val/test`` level.
    """
    root = Path(root)
    classes = find_classes(root, match, split)
    _, split_dir = _split_root(root, split, match)
    base = split_dir or root
    if not classes:
        return [(p, None) for p in iter_files(base) if match(p)]
    loose = [p for p in base.iterdir() if p.is_file() and match(p)]
    if loose:
        logger.warning("%s: ignoring %d image(s) outside the class folders", base, len(loose))
    pairs = []
    for label, name in enumerate(classes):
        if (base / name).is_dir():
            pairs += [(p, label) for p in iter_files(base / name) if match(p)]
    return pairs


def _tail(path: Path, size: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - size))
        return handle.read()


def _truncation(path: Path, img: Image.Image) -> str | None:
    """Cheap end-of-file checks that find truncated files without decoding them."""
    if img.format == "PNG" and b"IEND" not in _tail(path, 12):
        return "truncated PNG (no IEND chunk at the end of the file)"
    if img.format in ("JPEG", "MPO") and b"\xff\xd9" not in _tail(path, 4096):
        return "truncated JPEG (no end-of-image marker)"
    if img.format == "TIFF":
        tags = img.tag_v2
        offsets, counts = tags.get(273) or tags.get(324), tags.get(279) or tags.get(325)
        if offsets and counts and max(o + c for o, c in zip(offsets, counts)) > path.stat().st_size:
            return "truncated TIFF (image data runs past the end of the file)"
    return None


def raster_problem(path: str | os.PathLike) -> str | None:
    """Check a raster file without decoding its pixels.

    Args:
        path: the file.

    Returns:
        None when it looks like a complete PNG/JPEG/TIFF image, else the problem.
    """
    path = Path(path)
    try:
        with open_image(path) as img:
            if img.format not in _PIL_FORMATS:
                return f"not a PNG, JPEG or TIFF image (format {img.format})"
            if min(img.size) < 1:
                return f"empty image ({img.size[0]} x {img.size[1]})"
            return _truncation(path, img)
    except DataError as err:
        return err.problem
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
        return f"not a readable image ({err})"


def raster_datalist(root: str | os.PathLike, *, split: str | None = "train",
                    report: BadInputReport | None = None) -> list[dict]:
    """Datalist of a folder of rasters (class subfolders give labels).

    Args:
        root: the folder.
        split: split folder to read when the layout has a ``train/val/test`` level.
        report: where to list bad files (None: raise :class:`DataError` on the first one).

    Returns:
        Entries ``{"image": path}`` plus ``"label"`` with class folders.
    """
    entries = []
    for path, label in class_files(root, is_raster, split):
        problem = raster_problem(path)
        if problem:
            reject(path, problem, report)
            continue
        entries.append({"image": str(path)} if label is None else {"image": str(path), "label": label})
    return entries


def _to_array(img: Image.Image) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Pixel array (H, W) or (H, W, 3) in the file's own values, and the dtype's natural range."""
    mode = img.mode
    if mode.startswith("I;16"):
        return np.asarray(img).astype(np.uint16), (0.0, 65535.0)
    if mode == "I":  # 32-bit integer (or a 16-bit PNG decoded by an older Pillow)
        arr = np.asarray(img)
        rng = (0.0, 65535.0) if img.format == "PNG" else (float(np.iinfo(np.int32).min), float(np.iinfo(np.int32).max))
        return arr, rng
    if mode == "F":
        return np.asarray(img, dtype=np.float32), None
    if mode in ("1", "L", "LA", "La"):
        return np.asarray(img.convert("L")), (0.0, 255.0)
    rgb = np.asarray(img.convert("RGB"))
    if mode in ("P", "PA") and (rgb == rgb[..., :1]).all():
        return rgb[..., 0], (0.0, 255.0)  # grey palette: keep one channel
    return rgb, (0.0, 255.0)


def read_raster(path: str | os.PathLike, size_hint: int | None = None) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Read a PNG/JPEG/TIFF image (first page) in its native values.

    Args:
        path: the file (opened read-only).
        size_hint: the side the image will be resized to; an image at least twice as large on its short
            side is reduced while read (see :mod:`monai_synth.data.image_limits`). None: full size.

    Returns:
        ``(array, value_range)``: array (C, H, W) with C = 1 (grayscale) or 3 (RGB; alpha dropped), in the
        file's dtype (uint8, uint16, int32 or float32); value_range the dtype's natural range, e.g.
        (0, 255) or (0, 65535), None for float images.

    Raises:
        DataError: if the file cannot be decoded or has more pixels than the limit.
    """
    try:
        with open_image(path) as img:
            draft_jpeg(img, size_hint)
            img.load()
            arr, value_range = _to_array(img)
    except DataError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise DataError(f"cannot read image ({err})", path) from err
    arr = block_reduce(arr, reduction_factor((arr.shape[1], arr.shape[0]), size_hint))
    arr = arr[None] if arr.ndim == 2 else np.moveaxis(arr, -1, 0)
    return np.ascontiguousarray(arr), value_range
