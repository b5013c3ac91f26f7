"""Turn any study image (PNG/JPEG/TIFF, DICOM, NIfTI slice, MedMNIST row) into a stripped, same-size PNG.

Real and synthetic images go through exactly the same steps, so neither the pixel size nor the format
of a served image tells them apart:

1. read in native units (rasters as stored; DICOM after the modality LUT, MONOCHROME1 inverted);
2. map to 8 bits for display: rasters as they are (16-bit ones by their dtype range), DICOM through a
   window (a CT preset, an explicit ``level,width``, the file's own window, or per-image percentiles);
3. centre-crop to a square (padding would reveal non-square originals) and resize with Lanczos to
   ``size`` x ``size``;
4. encode as PNG with Pillow, no ancillary chunks (no text, EXIF, time, gamma or physical size), the same
   mode (grayscale, or RGB for every image when any input is in colour) and the same compression level.

Only pixels leave this module: no file name, DICOM header or EXIF reaches the browser. The encoded byte
size still depends on the image content, as for any lossless format.

Readers here do not import torch or MONAI, so creating a study stays quick.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from PIL import Image

from monai_synth.data.dicom import read_dicom_frame
from monai_synth.data.errors import DataError
from monai_synth.data.folder import read_raster
from monai_synth.data.medmnist import read_npz_image
from monai_synth.data.nifti import read_nifti_slice
from monai_synth.data.sources import build_datalist, image_file_kind

__all__ = ["WINDOW_CHOICES", "encode_png", "list_images", "parse_window", "read_native", "square_resize", "to_display"]

#: ``--window`` values besides CT preset names and ``level,width``.
WINDOW_CHOICES = ("auto", "header", "percentile")
#: Percentiles of the per-image display range used when no window applies.
PERCENTILES = (0.5, 99.5)
#: zlib level of every PNG written (the same for real and synthetic images).
PNG_COMPRESS_LEVEL = 6


def list_images(folder: str | os.PathLike) -> list[dict[str, Any]]:
    """The 2D images of a folder (rasters, DICOM export, NIfTI) or datalist/``.npz`` file, sorted.

    Raises:
        DataError: missing or empty folder, or a source with no usable images.
    """
    if not os.path.exists(folder):
        raise DataError("no such file or folder", folder)
    entries = build_datalist(folder, split=None)
    return sorted(entries, key=lambda e: (str(e["image"]), int(e.get("frame") or 0), int(e.get("index") or 0)))


def read_native(entry: Mapping[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """Read one datalist entry as (C, H, W) in native units and a small meta dict.

    Returns:
        ``(array, meta)`` with meta keys ``kind`` (``raster|dicom|nifti|npz``), ``value_range``,
        ``modality``, ``window`` ((level, width) from a DICOM header or None).

    Raises:
        DataError: unreadable file (the message names it).
    """
    path = str(entry["image"])
    if not os.path.isfile(path):
        raise DataError("file not found", path)
    kind = image_file_kind(path)
    meta: dict[str, Any] = {"kind": kind, "value_range": None, "modality": None, "window": None}
    if kind == "raster":
        arr, meta["value_range"] = read_raster(path)
    elif kind == "npz":
        arr = read_npz_image(path, str(entry.get("split") or "train"), int(entry.get("index") or 0))
        meta["value_range"] = (0.0, 255.0) if arr.dtype == np.uint8 else None
    elif kind == "nifti":
        arr, _ = read_nifti_slice(path, int(entry.get("frame") or 0), int(entry.get("axis") or 2))
    else:
        arr, dicom = read_dicom_frame(path, int(entry.get("frame") or 0))
        meta["modality"] = dicom.get("modality")
        if dicom.get("window_center") is not None and dicom.get("window_width"):
            meta["window"] = (float(dicom["window_center"]), float(dicom["window_width"]))
    return np.asarray(arr), meta


def parse_window(value: str) -> str | tuple[float, float]:
    """``--window``: ``auto``, ``header``, ``percentile``, a CT preset name, or ``level,width`` in HU.

    Raises:
        DataError: an unknown name or a malformed pair.
    """
    text = value.strip().lower()
    if text in WINDOW_CHOICES:
        return text
    if "," in text:
        try:
            level, width = (float(part) for part in text.split(","))
        except ValueError:
            raise DataError(f"--window {value!r}: expected level,width in HU (e.g. 50,350)") from None
        if not width > 0:
            raise DataError(f"--window {value!r}: the width must be > 0")
        return level, width
    from monai_synth.transforms.window import WINDOW_PRESETS  # lazy: imports torch and MONAI (module docstring)

    if text not in WINDOW_PRESETS:
        raise DataError(f"--window {value!r}: unknown; use auto, header, percentile, level,width or one of "
                        f"{', '.join(sorted(WINDOW_PRESETS))}")
    return WINDOW_PRESETS[text]


def _scale(arr: np.ndarray, low: float, high: float) -> np.ndarray:
    span = max(high - low, 1e-12)
    return np.clip((arr.astype(np.float64) - low) / span * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _percentile_range(arr: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(arr, PERCENTILES)
    return float(low), float(high)


def _window_range(level: float, width: float) -> tuple[float, float]:
    return level - width / 2.0, level + width / 2.0


def to_display(arr: np.ndarray, meta: Mapping[str, Any], window: str | tuple[float, float], name: str) -> np.ndarray:
    """Map a native image (C, H, W) to 8-bit display values (H, W) or (H, W, 3).

    Args:
        arr: the image in native units.
        meta: from :func:`read_native`.
        window: a parsed ``--window`` (see :func:`parse_window`); it applies to DICOM only: rasters and
            ``.npz`` rows are shown as they are.
        name: the file, for error messages.

    Raises:
        DataError: ``window="header"`` for a DICOM file without a window.
    """
    if meta["kind"] in ("raster", "npz") or (meta["kind"] == "dicom" and arr.shape[0] == 3):
        value_range = meta.get("value_range")
        low, high = value_range if value_range else _percentile_range(arr)
        if arr.dtype == np.uint8:
            out = arr
        else:
            out = _scale(arr, low, high)
    else:
        out = _scale(arr, *_native_range(arr, meta, window, name))
    return out[0] if out.shape[0] == 1 else np.moveaxis(out, 0, -1)


def _native_range(arr: np.ndarray, meta: Mapping[str, Any], window: str | tuple[float, float],
                  name: str) -> tuple[float, float]:
    """The native range shown from black to white for DICOM and NIfTI images."""
    if isinstance(window, tuple):
        return _window_range(*window)
    if window == "header":
        if meta.get("window") is None:
            raise DataError("no window (WindowCenter/WindowWidth) in the header; choose --window with a preset, "
                            "level,width or percentile", name)
        return _window_range(*meta["window"])
    if window == "auto" and meta.get("window") is not None:
        return _window_range(*meta["window"])
    return _percentile_range(arr)


def square_resize(pixels: np.ndarray, size: int, rgb: bool) -> Image.Image:
    """Centre-crop to a square and resize to ``size`` x ``size`` (Lanczos), in mode ``L`` or ``RGB``."""
    image = Image.fromarray(np.ascontiguousarray(pixels))
    image = image.convert("RGB" if rgb else "L")
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    return image.resize((size, size), Image.Resampling.LANCZOS)


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes with only the critical chunks (IHDR, IDAT, IEND): no metadata at all."""
    clean = Image.frombytes(image.mode, image.size, image.tobytes())  # drops any info carried along
    buffer = io.BytesIO()
    clean.save(buffer, format="PNG", optimize=False, compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()
