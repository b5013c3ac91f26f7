"""Read the synthetic images of an audit and check that they can be compared with the training images.

Synthetic files are read in their own value range (an 8-bit PNG written by a sampler: ``0..255 -> [-1, 1]``;
DICOM with a window: that window), which is the training scaling the model produced them in. They must have
the grid's size and channel count, unless the user set those explicitly (then they are resized / converted,
as training images are). Anything else is refused with one message naming the folder, a file and the problem.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from monai_synth.data import ReadImage2D, build_datalist
from monai_synth.data.errors import DataError
from monai_synth.engines.image_tensors import resize_square
from monai_synth.metrics.image_sets import to_symmetric

__all__ = ["SyntheticSet", "load_synthetic_set"]


class SyntheticSet:
    """Synthetic images ``(N, C, S, S)`` in ``[-1, 1]`` and their file names (relative to the source)."""

    def __init__(self, images: torch.Tensor, names: list[str], source: Path) -> None:
        self.images, self.names, self.source = images, names, source

    def __len__(self) -> int:
        return self.images.shape[0]


def _entries(source: Path) -> list[dict]:
    if source.is_dir() and not any(p.is_file() and not p.name.startswith(".") for p in source.rglob("*")):
        raise DataError("the synthetic image folder is empty", source)
    try:
        return build_datalist(source, split=None)
    except DataError as err:
        raise DataError(f"synthetic images: {err.problem}", err.path) from err


def _name(entry: dict, source: Path, index: int) -> str:
    image = entry.get("image")
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        try:
            return str(path.relative_to(source.resolve())) if source.is_dir() else path.name
        except ValueError:
            return path.name
    return f"image {index}"


def _conform(image: torch.Tensor, size: int, channels: int, fix_size: bool, fix_channels: bool, where: str,
             source: Path) -> torch.Tensor:
    c, h, w = image.shape
    if c != channels:
        if not fix_channels:
            raise DataError(f"synthetic images have {c} channel(s) (e.g. {where}), the training images {channels}: "
                            "give synthetic images of the training channel count, or set channels (--channels) "
                            "to convert", source)
        image = image.mean(0, keepdim=True) if channels == 1 else image[:1].expand(3, -1, -1)
    if (h, w) != (size, size):
        if not fix_size:
            raise DataError(f"synthetic images are {h} x {w} (e.g. {where}), the training images {size} x {size}: "
                            "give synthetic images of the training size, or set image_size (--image-size) to "
                            "resize both", source)
        image = resize_square(image, size)
    return image


def load_synthetic_set(source: str | os.PathLike, size: int, channels: int, fix_size: bool = False,
                       fix_channels: bool = False) -> SyntheticSet:
    """Read and check every synthetic image.

    Args:
        source: any image source the data layer reads (usually a folder of PNG files).
        size: side of the grid; channels: its channel count.
        fix_size / fix_channels: resize / convert instead of refusing (the user set the grid explicitly).

    Raises:
        DataError: an empty folder, an unreadable source, or images of another size or channel count.
    """
    folder = Path(source).expanduser()
    entries = _entries(folder)
    read = ReadImage2D()
    images, names = [], []
    for i, entry in enumerate(entries):
        name = _name(entry, folder, i)
        try:
            item = read(entry)
        except DataError as err:
            raise DataError(f"synthetic image {name}: {err.problem}", folder) from err
        image = to_symmetric(item.as_tensor(), item.meta)
        images.append(_conform(image, size, channels, fix_size, fix_channels, name, folder))
        names.append(name)
    return SyntheticSet(torch.stack(images).float().contiguous(), names, folder)
