"""Image sets to evaluate: any source the data layer reads, or in-memory tensors, with class labels.

A source is read with :func:`monai_synth.data.build_datalist` and :class:`monai_synth.data.ReadImage2D`
and mapped to ``[-1, 1]``:

- sources with a natural value range (8/16-bit rasters, MedMNIST ``.npz``, float phantoms):
  ``2 (v - lo) / (hi - lo) - 1``, so 8-bit files round-trip exactly through the 8-bit quantisation of the
  feature extractor;
- DICOM with a window in its header: that window (``[c - w/2, c + w/2] -> [-1, 1]``, clipped);
- anything else (NIfTI, DICOM without window): the image's 0.5th..99.5th percentiles, clipped.

Labels come from an explicit labels file or sequence (:func:`read_labels`); else from a
``manifest.jsonl`` in the source folder when it labels every image (records written by our samplers:
``file`` and ``condition``, an int or a dict with ``class_label``); else from the datalist (class
folders, CSV/JSON ``label``, ``.npz`` labels).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from monai_synth.data import ReadImage2D, build_datalist
from monai_synth.data.errors import DataError
from monai_synth.io.manifest import read_manifest

__all__ = ["ImageSet", "load_image_set", "read_labels", "condition_label", "to_symmetric"]


def to_symmetric(image: torch.Tensor, meta: Mapping) -> torch.Tensor:
    """Map an image in native units to ``[-1, 1]`` (rule in the module docstring)."""
    x = torch.as_tensor(image).float()
    value_range = meta.get("value_range")
    if value_range is not None:
        lo, hi = float(value_range[0]), float(value_range[1])
    elif meta.get("window_center") is not None and meta.get("window_width"):
        center, width = float(np.ravel(meta["window_center"])[0]), float(np.ravel(meta["window_width"])[0])
        lo, hi = center - width / 2.0, center + width / 2.0
    else:
        lo, hi = (float(v) for v in torch.quantile(x.flatten(), torch.tensor([0.005, 0.995])))
    if hi <= lo:
        return torch.zeros_like(x)
    return ((x - lo) / (hi - lo) * 2.0 - 1.0).clamp(-1.0, 1.0)


def condition_label(condition: Any) -> int | None:
    """Class label of a manifest ``condition`` (an int, or a dict with ``class_label``/``label``/``class``)."""
    if isinstance(condition, bool) or condition is None:
        return None
    if isinstance(condition, (int, np.integer)):
        return int(condition)
    if isinstance(condition, Mapping):
        for key in ("class_label", "label", "class"):
            value = condition.get(key)
            if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                return int(value)
    return None


def _manifest_labels(folder: Path, entries: Sequence[Mapping]) -> list[int | None] | None:
    """Labels of the entries from ``folder/manifest.jsonl`` (None when there is no manifest)."""
    records = read_manifest(folder)
    if not records:
        return None
    by_file = {
        os.path.normpath(folder / r["file"]): condition_label(r.get("condition")) for r in records if "file" in r
    }
    return [by_file.get(os.path.normpath(str(e.get("image")))) for e in entries]


def read_labels(path: str | os.PathLike, entries: Sequence[Mapping]) -> list[int | None]:
    """Labels for a datalist from a labels file.

    Accepted: ``manifest.jsonl`` / ``.jsonl`` records (``file``, ``condition``); ``.csv`` with columns
    ``image`` (path or file name) and ``label``; ``.csv`` with only ``label``, ``.txt`` (one int per line)
    or ``.npy`` (int array), in datalist order.

    Raises:
        DataError: unreadable file, or a count that does not match the images.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("labels file not found", path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        with open(path, encoding="utf-8") as handle:
            records = [json.loads(line) for line in handle if line.strip()]
        table = {Path(r["file"]).name: condition_label(r.get("condition", r.get("label"))) for r in records}
        return [table.get(Path(str(e.get("image"))).name) for e in entries]
    if suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        if rows and "image" in rows[0] and "label" in rows[0]:
            table = {Path(r["image"]).name: int(r["label"]) for r in rows if r["label"] not in ("", None)}
            return [table.get(Path(str(e.get("image"))).name) for e in entries]
        values = [int(r["label"]) for r in rows] if rows and "label" in rows[0] else None
    elif suffix == ".npy":
        values = [int(v) for v in np.load(path, allow_pickle=False).ravel()]
    else:
        values = [int(line) for line in path.read_text(encoding="utf-8").split()]
    if values is None or len(values) != len(entries):
        found = "no 'label' column" if values is None else f"{len(values)} labels"
        raise DataError(f"{found} for {len(entries)} images", path)
    return values


class ImageSet:
    """A set of 2D images read lazily, each as a float tensor ``(C, H, W)`` in ``[-1, 1]``.

    Args:
        entries: datalist entries (``image`` paths or arrays) or a tensor ``(N, C, H, W)`` in ``[-1, 1]``.
        labels: one label (or None) per image.
        name: what to call it in messages and reports.
    """

    def __init__(self, entries: Sequence[Mapping] | torch.Tensor, labels: Sequence[int | None] | None, name: str):
        self.entries = entries
        self.labels = list(labels) if labels is not None else [None] * len(entries)
        self.name = name
        self._reader = None

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> torch.Tensor:
        if isinstance(self.entries, torch.Tensor):
            return self.entries[index].float()
        if self._reader is None:
            self._reader = ReadImage2D()
        image = self._reader(self.entries[index])
        return to_symmetric(image.as_tensor(), image.meta)

    def __iter__(self) -> Iterator[torch.Tensor]:
        return (self[i] for i in range(len(self)))

    @property
    def has_labels(self) -> bool:
        """Whether every image has a label."""
        return bool(self.labels) and all(label is not None for label in self.labels)


def load_image_set(
    source: Any,
    labels: str | os.PathLike | Sequence[int] | None = None,
    split: str | None = "train",
    name: str = "images",
) -> ImageSet:
    """Open an image set from a path (any data-layer source), a datalist, or a tensor/array.

    Args:
        source: folder / ``.csv`` / ``.json`` / ``.npz`` / DICOM / NIfTI path; a list of datalist dicts; or a
            ``(N, C, H, W)`` tensor/array in ``[-1, 1]``.
        labels: labels file (:func:`read_labels`) or a sequence of ints; ``None`` uses the source's own
            labels or its ``manifest.jsonl``.
        split: split for ``.npz`` archives, split folders and datalist files (``None``: all rows of a
            datalist file).
        name: label for messages.

    Returns:
        The :class:`ImageSet`.

    Raises:
        DataError: unusable source or labels.
    """
    if source is None or (isinstance(source, (str, os.PathLike)) and not os.fspath(source)):
        raise DataError(f"{name}: no image source given (a folder, .csv/.json datalist, .npz, DICOM or NIfTI path)")
    if isinstance(source, (torch.Tensor, np.ndarray)):
        tensor = torch.as_tensor(source)
        if tensor.ndim != 4:
            raise DataError(f"{name}: expected an array (N, C, H, W), got shape {tuple(tensor.shape)}")
        given = None if labels is None else [int(v) for v in labels]
        return ImageSet(tensor, given, name)
    if isinstance(source, (str, os.PathLike)):
        entries = build_datalist(source, split=split)
    else:
        entries = list(source)
    manifest = None
    if labels is None and isinstance(source, (str, os.PathLike)) and Path(source).is_dir():
        manifest = _manifest_labels(Path(os.path.abspath(source)), entries)
    if isinstance(labels, (str, os.PathLike)):
        found = read_labels(labels, entries)
    elif labels is not None:
        found = [int(v) for v in labels]
    elif manifest is not None and all(v is not None for v in manifest):
        found = manifest  # the sampler's record beats class-folder indices
    elif any(e.get("label") is not None for e in entries):
        found = [e.get("label") for e in entries]
    else:
        found = manifest
    if found is not None and len(found) != len(entries):
        raise DataError(f"{len(found)} labels for {len(entries)} images", str(source))
    return ImageSet(entries, found, name)
