"""Real image/mask pairs of a segmentation utility study.

Sources:

- empty (``""`` or None): the embedded phantom, whose radiographs come with exact label maps (0 background,
  1 lungs, 2 heart; :func:`monai_synth.downstream.segmentation.phantom_segmentation_set`); the train and test
  splits never share an image;
- a CSV or JSON datalist with ``image``, ``mask`` and ``split`` columns/keys (or a MONAI Decathlon datalist whose
  ``label`` names the mask file), read by the data layer (:func:`monai_synth.data.build_datalist`): PNG, DICOM
  or NIfTI files; a NIfTI image without a ``frame`` gives one pair per slice, its mask read at the same slice.
  Example CSV::

      image,mask,split
      cases/a.nii.gz,masks/a.nii.gz,train
      cases/b.nii.gz,masks/b.nii.gz,test

Images are normalised to [-1, 1] with the restorer's training intensity settings and resized to its size as
the classification study reads real images (:func:`monai_synth.metrics.utility.inputs.resize_image`); masks are
resized with nearest-neighbour interpolation. A mask is a label map: 0 background, 1..K the structures.

Every refusal is a :class:`~monai_synth.data.errors.DataError` naming the file or folder and the problem: no
such path, no pairs in a split, images without a mask, an image and its mask of different sizes, a mask with
several channels, non-integer or negative values, or labels above the structures known.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from monai_synth.data import ReadImage2Dd, build_datalist
from monai_synth.data.channels import match_channels
from monai_synth.data.errors import DataError
from monai_synth.downstream.segmentation import phantom_segmentation_set
from monai_synth.metrics.utility.inputs import resize_image
from monai_synth.transforms import make_intensity_transform

__all__ = ["SegmentationPairs", "read_segmentation_pairs"]

logger = logging.getLogger(__name__)


@dataclass
class SegmentationPairs:
    """Images ``(N, C, S, S)`` float32 in [-1, 1] and label maps ``(N, 1, S, S)`` int64 of one split."""

    images: torch.Tensor
    masks: torch.Tensor
    source: str
    files: list[str]

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def max_label(self) -> int:
        return int(self.masks.max()) if len(self) else 0


def _where(source: str | os.PathLike | None, split: str) -> str:
    return f"{os.fspath(source)} (split '{split}')" if source else f"phantom (split '{split}')"


def _name(entry: dict, key: str) -> str:
    path = str(entry.get(key))
    return f"{path} (slice {entry['frame']})" if "frame" in entry and str(path).lower().endswith((".nii", ".nii.gz")) \
        else path


def _entries(source: str | os.PathLike, split: str) -> list[dict]:
    if not os.path.exists(source):
        raise DataError("no such file or folder of real image/mask pairs", source)
    if os.path.isdir(source) and not any(os.scandir(source)):
        raise DataError("the folder is empty; give a CSV/JSON datalist with image, mask and split columns", source)
    entries = build_datalist(source, split=split)
    if not entries:
        raise DataError(f"no images in the '{split}' split", source)
    unmasked = [e for e in entries if not e.get("mask")]
    if unmasked:
        raise DataError(
            f"{len(unmasked)} of {len(entries)} images of the '{split}' split have no mask (e.g. "
            f"{_name(unmasked[0], 'image')}); segmentation utility needs image/mask pairs: a CSV or JSON datalist "
            "with 'image', 'mask' and 'split' columns (a mask is a label map: 0 background, 1..K structures)",
            source)  # fmt: skip
    return entries


def _check_mask(mask: np.ndarray, entry: dict, num_structures: int | None) -> np.ndarray:
    where = _name(entry, "mask")
    if mask.shape[0] != 1:
        raise DataError(f"the mask has {mask.shape[0]} channels; a mask is a one-channel label map "
                        "(0 background, 1..K structures)", where)  # fmt: skip
    values = np.unique(mask)
    if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
        bad = next(v for v in values if not (np.isfinite(v) and v == np.round(v)))
        raise DataError(f"the mask holds non-integer values (e.g. {bad:g}); a mask is a label map of integers "
                        "(0 background, 1..K structures)", where)  # fmt: skip
    if values.min() < 0:
        raise DataError(f"the mask holds the negative label {int(values.min())}; labels are 0 (background) to K",
                        where)  # fmt: skip
    if num_structures is not None and values.max() > num_structures:
        raise DataError(f"the mask holds label {int(values.max())}, outside 0..{num_structures} (background and "
                        f"the {num_structures} structure(s) of the study)", where)  # fmt: skip
    return mask.astype(np.int64)


def read_segmentation_pairs(
    source: str | os.PathLike | None,
    split: str,
    image_size: int,
    channels: int = 1,
    intensity: str = "auto",
    window: str | Sequence[float] | None = None,
    num_structures: int | None = None,
    phantom_count: int = 64,
    phantom_seed: int = 0,
) -> SegmentationPairs:
    """Every image/mask pair of one split, the images normalised and both resized to ``image_size``.

    Args:
        source: a CSV/JSON datalist of image/mask pairs; empty or None: the phantom.
        split: the split to read.
        image_size: side of the square images returned.
        channels: 1 (colour images are averaged) or 3 (grayscale repeated).
        intensity / window: the restorer's training normalisation.
        num_structures: K, the largest label a mask may hold (None: not checked).
        phantom_count / phantom_seed: phantom images per split and their seed, when ``source`` is empty.

    Raises:
        DataError: naming the file or folder and the problem (see the module docstring).
    """
    where = _where(source, split)
    if not source:
        images, masks = phantom_segmentation_set(int(phantom_count), int(image_size), int(phantom_seed), split)
        if channels == 3:
            images = images.expand(-1, 3, -1, -1).contiguous()
        if num_structures is not None and int(masks.max()) > num_structures:
            raise DataError(f"the phantom masks hold labels 1..{int(masks.max())} (lung, heart) but the study names "
                            f"{num_structures} structure(s); give as many structure names", where)  # fmt: skip
        return SegmentationPairs(images, masks, where, [f"phantom {split} {i}" for i in range(len(images))])
    entries = _entries(source, split)
    read = ReadImage2Dd(keys=("image", "mask"))
    norm = make_intensity_transform(mode=intensity, keys=("image",), window=window)
    images, masks = [], []
    for entry in entries:
        item = read(dict(entry))
        image, mask = item["image"], np.asarray(item["mask"], dtype=np.float64)
        if tuple(image.shape[-2:]) != tuple(mask.shape[-2:]):
            raise DataError(f"the image is {image.shape[-2]} x {image.shape[-1]} px but its mask "
                            f"{_name(entry, 'mask')} is {mask.shape[-2]} x {mask.shape[-1]} px; give the mask of "
                            "each image at the image's size", _name(entry, "image"))  # fmt: skip
        label_map = torch.from_numpy(_check_mask(mask, entry, num_structures))
        images.append(resize_image(match_channels(norm(item)["image"], channels), image_size))
        masks.append(F.interpolate(label_map[None].float(), size=(image_size, image_size), mode="nearest")[0].long())
    logger.info("read %d image/mask pairs of the '%s' split at %d px from %s", len(images), split, image_size, source)
    return SegmentationPairs(torch.stack(images).contiguous(), torch.stack(masks).contiguous(), where,
                             [_name(e, "image") for e in entries])  # fmt: skip
