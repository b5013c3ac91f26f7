"""Large raster images: a pixel-count limit with a clear message, and downsampling on read.

- **Limit.** An image with more than :func:`max_pixels` pixels (default 100 million, e.g. 10000 x 10000;
  set ``MONAI_SYNTH_MAX_PIXELS`` to change it, ``0`` for no limit) is refused with a :class:`DataError`
  that names the file, its size and the setting, before any pixel is decoded. Pillow's own
  ``DecompressionBombError``/``Warning`` never reach the user: :func:`open_image` applies this limit instead.
- **Downsampling on read.** When the caller says the images will be resized to ``size_hint`` pixels, an
  image at least twice as large on its short side is reduced while it is read: JPEG files are decoded at
  1/2, 1/4 or 1/8 scale (``Image.draft``, the DCT does the work), other files are box-averaged by an integer
  factor right after decoding. The result keeps at least twice ``size_hint`` on its short side, so that the
  training resize (anti-aliased) still has detail to work with.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator

import numpy as np
from PIL import Image

from .errors import DataError

__all__ = ["MAX_PIXELS_ENV", "block_reduce", "draft_jpeg", "max_pixels", "open_image", "reduction_factor"]

#: Environment variable holding the pixel-count limit (an integer; 0 disables the limit).
MAX_PIXELS_ENV = "MONAI_SYNTH_MAX_PIXELS"
DEFAULT_MAX_PIXELS = 100_000_000


def max_pixels() -> int:
    """The pixel-count limit: ``MONAI_SYNTH_MAX_PIXELS`` when set (0: none), else 100 million.

    Raises:
        DataError: the variable is not a non-negative integer.
    """
    text = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(float(text))
    except ValueError:
        value = -1
    if value < 0:
        raise DataError(f"{MAX_PIXELS_ENV}={text!r} is not a non-negative integer (0 disables the limit)")
    return value


@contextlib.contextmanager
def open_image(path: str | os.PathLike) -> Iterator[Image.Image]:
    """``Image.open`` with this package's pixel limit instead of Pillow's decompression-bomb check.

    Args:
        path: the image file (opened read-only; pixels are not decoded here).

    Yields:
        The opened image.

    Raises:
        DataError: the image has more pixels than :func:`max_pixels` allows.
    """
    limit = max_pixels()
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # our limit below replaces Pillow's check (which names no file)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
    finally:
        Image.MAX_IMAGE_PIXELS = previous
    with img:
        width, height = img.size
        if limit and width * height > limit:
            raise DataError(f"image of {width} x {height} pixels ({width * height / 1e6:.0f} million) exceeds the "
                            f"limit of {limit / 1e6:.0f} million pixels; set {MAX_PIXELS_ENV} to a larger value "
                            "(or 0) to read it, or downsample it first", path)
        yield img


def reduction_factor(size: tuple[int, int], size_hint: int | None) -> int:
    """Integer factor that keeps the short side at least ``2 * size_hint`` (1: no reduction).

    Args:
        size: ``(width, height)`` of the stored image.
        size_hint: the side the images will be resized to, or None.
    """
    if not size_hint or size_hint <= 0:
        return 1
    return max(1, min(size) // (2 * int(size_hint)))


def block_reduce(arr: np.ndarray, factor: int) -> np.ndarray:
    """Average ``factor`` x ``factor`` blocks of an (H, W) or (H, W, C) array, keeping its dtype.

    Edge rows and columns that do not fill a block are dropped (at most ``factor - 1`` pixels).
    """
    if factor <= 1:
        return arr
    h, w = (arr.shape[0] // factor) * factor, (arr.shape[1] // factor) * factor
    blocks = arr[:h, :w].reshape(h // factor, factor, w // factor, factor, *arr.shape[2:])
    mean = blocks.mean(axis=(1, 3), dtype=np.float64)
    if np.issubdtype(arr.dtype, np.integer):
        return np.rint(mean).astype(arr.dtype)
    return mean.astype(arr.dtype)


def draft_jpeg(img: Image.Image, size_hint: int | None) -> None:
    """Ask a JPEG decoder for a reduced-scale decode (1/2 .. 1/8) that keeps ``2 * size_hint`` pixels."""
    factor = reduction_factor(img.size, size_hint)
    if factor > 1 and img.format in ("JPEG", "MPO"):
        target = (max(1, img.size[0] // factor), max(1, img.size[1] // factor))
        img.draft(img.mode, target)
