"""Write a datalist as a MONAI Decathlon-style JSON file (what ``monai-synth datalist --out`` writes).

The file is a dict of lists keyed by split, as ``monai.data.load_decathlon_datalist`` and
:func:`monai_synth.data.build_datalist` both read it::

    {"training": [{"image": "/data/a.nii.gz", "frame": 12, "axis": 2, "label": "/data/a_seg.nii.gz"}, ...]}

Section names: ``train`` -> ``training``, ``val`` -> ``validation``, ``test`` -> ``test``. With every split
(``"all"``), entries go to the section of their own ``split`` key, else to ``training``. A segmentation mask
is written as ``label`` (the Decathlon convention) when the entry has no class label and the mask's file
name says it is an image; an entry with both a class and a mask keeps ``label`` (the class id) and ``mask``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from monai_synth.data.datalist_file import _MASK_ENDINGS
from monai_synth.io.atomic import atomic_open

__all__ = ["DECATHLON_SECTIONS", "datalist_document", "write_datalist_file"]

#: Section of a Decathlon-style datalist for each split name.
DECATHLON_SECTIONS = {"train": "training", "val": "validation", "test": "test"}


def _section(split: str | None, entry: Mapping[str, Any]) -> str:
    name = split if split not in (None, "all") else entry.get("split")
    return DECATHLON_SECTIONS.get(str(name or "train"), str(name or "training"))


def _decathlon_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(entry)
    mask = out.get("mask")
    if "label" not in out and isinstance(mask, str) and mask.lower().endswith(_MASK_ENDINGS):
        out["label"] = out.pop("mask")
    return out


def datalist_document(entries: Iterable[Mapping[str, Any]], split: str | None = "train") -> dict[str, list]:
    """The Decathlon-style dict of lists for ``entries`` of ``split`` (see the module docstring).

    Args:
        entries: datalist entries (paths as strings).
        split: the split they were built for; None or ``"all"`` sorts them by their ``split`` key.
    """
    document: dict[str, list] = {}
    for entry in entries:
        document.setdefault(_section(split, entry), []).append(_decathlon_entry(entry))
    return document or {DECATHLON_SECTIONS.get(str(split), "training"): []}


def write_datalist_file(entries: Iterable[Mapping[str, Any]], path: str | os.PathLike,
                        split: str | None = "train") -> Path:
    """Write ``entries`` as a Decathlon-style JSON datalist, atomically.

    The caller checks first that ``path`` is no input
    (:func:`monai_synth.io.output_guard.check_output_path`).

    Args:
        entries: datalist entries.
        path: destination ``.json`` file; its folder is created if needed.
        split: as for :func:`datalist_document`.

    Returns:
        The path written.
    """
    text = json.dumps(datalist_document(entries, split), indent=1) + "\n"
    with atomic_open(path) as handle:
        handle.write(text.encode("utf-8"))
    return Path(path)
