"""Read the images of a utility study and refuse what cannot give a meaningful figure.

Real images come from any source the data layer reads (class folders, a ``.csv``/``.json`` datalist with a
split column, a MedMNIST ``.npz``, DICOM, NIfTI; empty = the embedded phantom), one split to train on and one
held-out split to test on, normalised to [-1, 1] and resized as training prepares them
(``monai_synth.engines.image_tensors.load_image_tensors``, which ``tests/utility`` checks this reader against):
the data layer's reader, the intensity transform of the training ``intensity`` mode, grayscale as the channel
mean, an antialiased bilinear shrink or a bicubic enlargement to the generator's size.

A folder of synthetic images needs a class label per image (``manifest.jsonl`` written by our samplers,
class subfolders, or a labels file; :func:`monai_synth.metrics.image_sets.load_image_set`), and images of the
real images' size and channel count.

Every refusal is a :class:`~monai_synth.data.errors.DataError` naming the folder or file and the problem.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from monai_synth.data import ReadImage2D, ReadImage2Dd, build_datalist, class_names
from monai_synth.data.channels import match_channels
from monai_synth.data.errors import DataError
from monai_synth.metrics.image_sets import load_image_set
from monai_synth.transforms import make_intensity_transform

__all__ = ["LabelledImages", "check_real_classes", "native_shape", "read_real", "read_synthetic_folder",
           "resize_image"]

logger = logging.getLogger(__name__)


@dataclass
class LabelledImages:
    """Images ``(N, C, H, W)`` float32 in [-1, 1] and their classes ``(N,)`` int64."""

    images: torch.Tensor
    labels: torch.Tensor
    source: str
    class_names: list[str]

    def __len__(self) -> int:
        return int(self.labels.numel())


def _where(source: str | os.PathLike | None, split: str | None = None) -> str:
    name = os.fspath(source) if source else "phantom"
    return f"{name} (split '{split}')" if split else name


def _entries(source: str | os.PathLike | None, split: str, phantom_count: int, phantom_size: int) -> list[dict]:
    entries = build_datalist(source or None, split=split, phantom_count=phantom_count, phantom_size=phantom_size)
    if not entries:
        raise DataError(f"no images in the '{split}' split", _where(source))
    unlabelled = sum(1 for e in entries if not isinstance(e.get("label"), (int, np.integer)))
    if unlabelled:
        raise DataError(
            f"{unlabelled} of {len(entries)} images of the '{split}' split have no class label; utility needs "
            "labelled real images (class subfolders, a 'label' column, or .npz labels)", _where(source))
    return entries


def native_shape(source: str | os.PathLike | None, split: str, phantom_count: int = 64) -> tuple[int, int, int]:
    """``(channels, height, width)`` of the first image of a real split, as stored."""
    entry = _entries(source, split, phantom_count, 64)[0]
    shape = tuple(int(v) for v in ReadImage2D()(entry).shape)
    return (shape[0], shape[-2], shape[-1])


def resize_image(image: torch.Tensor, size: int) -> torch.Tensor:
    """(C, H, W) to (C, size, size): antialiased bilinear when shrinking, bicubic when enlarging (as training)."""
    if tuple(image.shape[-2:]) == (size, size):
        return image
    shrinking = size < min(image.shape[-2:])
    mode = "bilinear" if shrinking else "bicubic"
    out = F.interpolate(image[None].float(), size=(size, size), mode=mode, antialias=shrinking, align_corners=False)
    return out[0].clamp(-1.0, 1.0)


def read_real(
    source: str | os.PathLike | None,
    split: str,
    image_size: int,
    channels: int,
    intensity: str = "auto",
    window: str | Sequence[float] | None = None,
    num_classes: int | None = None,
    phantom_count: int = 64,
) -> LabelledImages:
    """All images of one real split, normalised and resized to ``image_size`` (``channels`` 1 or 3).

    Args:
        source: any data-layer source; empty or None: the phantom (``phantom_count`` images per split).
        split: the split to read.
        image_size: side of the square images returned.
        channels: 1 (colour images are averaged) or 3 (grayscale repeated).
        intensity / window: the training normalisation (``monai_synth.transforms.make_intensity_transform``).
        num_classes: number of classes (default: the largest label + 1); names pad to it.
        phantom_count: phantom images when ``source`` is empty.

    Raises:
        DataError: no images in the split, or images without a class label.
    """
    entries = _entries(source, split, phantom_count, max(image_size, 32))
    read = ReadImage2Dd(keys=("image",))
    norm = make_intensity_transform(mode=intensity, keys=("image",), window=window)
    images = []
    for entry in entries:
        images.append(resize_image(match_channels(norm(read(dict(entry)))["image"], channels), image_size))
    labels = torch.tensor([int(e["label"]) for e in entries], dtype=torch.long)
    n = num_classes or int(labels.max()) + 1
    names = list(class_names(source or None, split=split) or [])
    names = names[:n] + [str(c) for c in range(len(names), n)]
    logger.info("read %d real images of the '%s' split at %d px from %s", len(images), split, image_size,
                _where(source))  # fmt: skip
    return LabelledImages(torch.stack(images).contiguous(), labels, _where(source, split), names)


def check_real_classes(train: LabelledImages, test: LabelledImages, num_classes: int,
                       class_names: Sequence[str]) -> None:  # fmt: skip
    """Refuse real splits that cannot score every class: fewer than two classes, or a class missing on one side.

    Raises:
        DataError: naming the split and the class.
    """
    def name(c: int) -> str:
        return f"class {c} ({class_names[c]})" if c < len(class_names) and class_names[c] != str(c) else f"class {c}"

    for split in (train, test):
        found = set(split.labels.tolist())
        if max(found) >= num_classes:
            raise DataError(f"labels up to {max(found)}, but the generator knows {num_classes} classes", split.source)
    train_classes, test_classes = set(train.labels.tolist()), set(test.labels.tolist())
    if len(train_classes) < 2:
        raise DataError(f"all {len(train)} training images are of {name(next(iter(train_classes)))}; a classifier "
                        "needs at least two classes", train.source)
    for c in sorted(train_classes - test_classes):
        raise DataError(
            f"the held-out split has no image of {name(c)}, which the training split holds; balanced accuracy and "
            "macro AUROC need every class in the test set (choose another test split or drop the class)",
            test.source)
    for c in sorted(test_classes - train_classes):
        raise DataError(f"the training split has no image of {name(c)}, which the held-out split holds",
                        train.source)


def _shape_problem(folder: str, shape: tuple[int, ...], expected: tuple[int, int, int], file: str) -> None:
    if shape[0] != expected[0]:
        raise DataError(
            f"synthetic images have {shape[0]} channel(s) (e.g. {file}) but the real images have {expected[0]}; "
            "give synthetic images of the real images' channel count", folder)
    if tuple(shape[-2:]) != expected[1:]:
        raise DataError(
            f"synthetic images are {shape[-2]} x {shape[-1]} px (e.g. {file}) but the real images are "
            f"{expected[1]} x {expected[2]} px; generate them at the real size (or set image_size to "
            f"{shape[-1]} when the synthetic images are square, to resize the real images)", folder)


def read_synthetic_folder(
    folder: str | os.PathLike,
    labels: str | os.PathLike | Sequence[int] | None,
    expected_shape: tuple[int, int, int],
    num_classes: int,
    class_names: Sequence[str],
) -> LabelledImages:
    """Every image of a folder of synthetic images, with its class, checked against the real images.

    Args:
        folder: the folder (or any data-layer source) of synthetic images.
        labels: labels file or sequence; None: ``manifest.jsonl``, class subfolders or datalist labels.
        expected_shape: ``(channels, height, width)`` of the real images.
        num_classes: number of classes of the real data.
        class_names: their names.

    Raises:
        DataError: no images, no labels, labels out of range, one class only, or another size or channel count.
    """
    where = os.fspath(folder)
    if not os.path.exists(where):
        raise DataError("no such folder or file of synthetic images", where)
    if os.path.isdir(where) and not any(p.is_file() and p.name != "manifest.jsonl" and not p.name.startswith(".")
                                        for p in Path(where).rglob("*")):
        raise DataError("the synthetic image folder is empty", where)
    images = load_image_set(folder, labels, split=None, name="synthetic")
    if len(images) == 0:
        raise DataError("no synthetic images found", where)
    if not images.has_labels:
        missing = sum(1 for v in images.labels if v is None)
        raise DataError(
            f"{missing} of {len(images)} synthetic images have no class label; give a manifest.jsonl with "
            "condition.class_label (written by our samplers), class subfolders, or a labels file "
            "(--synthetic-labels)", where)
    found = np.asarray(images.labels, dtype=np.int64)
    if found.min() < 0 or found.max() >= num_classes:
        raise DataError(f"synthetic class labels range {found.min()}..{found.max()}, but the real data has classes "
                        f"0..{num_classes - 1}", where)
    if np.unique(found).size < 2:
        c = int(found[0])
        named = class_names[c] if c < len(class_names) else str(c)
        raise DataError(
            f"all {found.size} synthetic images are of one class ({c}: {named}); utility needs synthetic images of "
            "at least two classes", where)
    tensors = []
    for i in range(len(images)):
        x = images[i]
        if tuple(x.shape) != tuple(expected_shape):
            entry = images.entries[i]
            _shape_problem(where, tuple(x.shape), expected_shape, os.path.basename(str(entry.get("image", i))))
        tensors.append(x)
    return LabelledImages(torch.stack(tensors).contiguous(), torch.as_tensor(found), where, list(class_names))

