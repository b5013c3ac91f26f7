"""Load a datalist into memory as one tensor of images in [-1, 1] and their labels.

2D generative training on a CPU is bound by the network, not by I/O: reading and normalising every image
once, then indexing batches from memory, removes the data loader from the step entirely and makes the
batch order a pure function of the iteration (exact resume).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from monai_synth.data import ReadImage2Dd, build_datalist, class_names
from monai_synth.data.channels import match_channels
from monai_synth.data.errors import BadInputReport, DataError
from monai_synth.transforms import make_intensity_transform

logger = logging.getLogger("monai_synth")


@dataclass
class ImageTensorSet:
    """Images (N, C, H, W) float32 in [-1, 1], labels (N,) int64, and what they mean."""

    images: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    intensity: dict = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # the files read (images, masks): the dataset's fingerprint

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return self.images.shape[0]


def resize_square(image: torch.Tensor, size: int) -> torch.Tensor:
    """Resize (C, H, W) to (C, size, size): antialiased area-like shrink, bicubic enlargement."""
    if image.shape[-2:] == (size, size):
        return image
    x = image[None].float()
    shrinking = size < min(image.shape[-2:])
    y = F.interpolate(x, size=(size, size), mode="bilinear" if shrinking else "bicubic", antialias=shrinking, align_corners=False)
    return y[0].clamp(-1.0, 1.0)


def load_image_tensors(
    dataset_dir: str | None,
    image_size: int,
    channels: int = 1,
    intensity: str = "auto",
    window: str | None = None,
    split: str = "train",
    phantom_count: int = 512,
    seed: int = 0,
    skip_bad: bool = False,
    num_classes: int | None = None,
    nonfinite: str = "error",
    size_hint: int | None = None,
    report_path: str | os.PathLike | None = None,
) -> ImageTensorSet:
    """Read every image of a dataset (any source the data layer reads; empty = phantom) into memory.

    Args:
        dataset_dir: folder, datalist file, DICOM export, NIfTI, MedMNIST ``.npz``; empty or None = phantom.
        image_size: side of the square training images.
        channels: 1 (grayscale; RGB is averaged) or 3.
        intensity: normalisation mode of ``monai_synth.transforms.make_intensity_transform``.
        window: CT window preset name when ``intensity`` is "window".
        split: MedMNIST split.
        phantom_count: number of phantom images when no data is given.
        seed: phantom seed.
        skip_bad: skip bad inputs instead of failing: those the datalist finds (unreadable or truncated files,
            objects without pixel data...) and those that fail when read (e.g. NaN/Inf values); they are listed
            in the log and, with ``report_path``, in a CSV file (``path,reason``), as StyleGAN2's
            ``skipped_inputs.csv``.
        num_classes: force the number of classes (default: max label + 1).
        nonfinite: images with NaN/Inf values: ``"error"`` refuses them (skipped with ``skip_bad``),
            ``"replace"`` replaces the values and records the files in the report.
        size_hint: decode large images (JPEG draft, block reduction) at a size that keeps at least twice this
            side, before the resize (usually ``image_size``; None: full resolution); see
            ``monai_synth.data.image_limits``.
        report_path: where to write the skipped and repaired inputs (CSV), when there are any; None: log only.
    """
    report = BadInputReport()
    datalist = build_datalist(
        dataset_dir or None, split=split, skip_bad=skip_bad, nonfinite=nonfinite, phantom_count=phantom_count,
        phantom_size=max(image_size, 32), seed=seed, report=report,
    )
    if not datalist:
        raise ValueError(f"{dataset_dir}: no images found")
    read = ReadImage2Dd(keys=("image",), size_hint=size_hint, nonfinite=nonfinite)
    norm = make_intensity_transform(mode=intensity, keys=("image",), window=window)
    images, labels, kept = [], [], []
    read_failures = BadInputReport()
    for entry in datalist:
        try:
            item = norm(read(dict(entry)))
        except DataError as e:
            if not skip_bad:
                raise
            read_failures.add(e.path or str(entry.get("image")), e.problem)
            continue
        kept.append(entry)
        images.append(resize_square(match_channels(item["image"], channels), image_size))
        labels.append(int(entry.get("label", 0)))
    _report_skipped(report, read_failures, report_path)
    if not images:
        raise ValueError(f"{dataset_dir}: no usable images ({len(read_failures)} could not be read, e.g. "
                         f"{read_failures[0].path}: {read_failures[0].reason})")
    datalist = kept
    labels_t = torch.tensor(labels, dtype=torch.long)
    n_cls = num_classes or int(labels_t.max()) + 1
    names = class_names(dataset_dir or None, split=split) or []
    names = names + [str(c) for c in range(len(names), n_cls)]
    logger.info("loaded %d images of %d classes at %d px from %s", len(images), n_cls, image_size, dataset_dir or "phantom")
    files = [str(e[k]) for e in datalist for k in ("image", "mask") if isinstance(e.get(k), (str, os.PathLike))]
    return ImageTensorSet(torch.stack(images).contiguous(), labels_t, names, {"mode": intensity, "window": window},
                          files)


def _report_skipped(listed, read_failures, report_path: str | os.PathLike | None) -> None:
    """Log the inputs that failed when read; write every skipped or repaired input to ``report_path`` (CSV)."""
    if read_failures:
        read_failures.log(logger)
    everything = BadInputReport([*listed, *read_failures])
    if everything and report_path is not None:
        logger.warning("list of skipped inputs written to %s", everything.write(report_path))
