"""The synthesize application's request file: which classes, how many images, which seeds.

A JSON file::

    {"images": [{"label": 0, "count": 4, "seed": 0}, {"label": 1, "count": 2, "seed": 100}],
     "modality": "OT", "sampling": {"steps": 50}}

Image ``k`` of an entry uses seed ``seed + k``. ``modality`` (default ``OT``; ``CT`` needs a model trained
with a CT window) and ``sampling`` (overrides of the bundle's sampler settings) are optional.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monai_synth.data.errors import DataError

__all__ = ["SynthesisRequest", "read_request"]

_KEYS = {"images", "modality", "sampling"}


@dataclass(frozen=True)
class SynthesisRequest:
    """A parsed request.

    Attributes:
        labels: class label of each image.
        seeds: seed of each image.
        modality: DICOM Modality of the Secondary Capture images.
        sampling: sampler overrides passed to ``generate``.
        text: the request's canonical JSON (part of the output UIDs).
    """

    labels: list[int]
    seeds: list[int]
    modality: str = "OT"
    sampling: dict[str, Any] = field(default_factory=dict)
    text: str = ""


def _entry(item: Any, index: int, path: Path) -> tuple[list[int], list[int]]:
    """Labels and seeds of one ``images`` entry."""
    if not isinstance(item, dict) or set(item) - {"label", "count", "seed"} or "label" not in item:
        raise DataError(f"images[{index}] must be {{'label': int, 'count': int, 'seed': int}}, got {item!r}", path)
    try:
        label, count, seed = int(item["label"]), int(item.get("count", 1)), int(item.get("seed", 0))
    except (TypeError, ValueError) as err:
        raise DataError(f"images[{index}]: label, count and seed must be integers ({err})", path) from err
    if count < 1:
        raise DataError(f"images[{index}]: count must be at least 1, got {count}", path)
    return [label] * count, [seed + k for k in range(count)]


def read_request(path: str | os.PathLike) -> SynthesisRequest:
    """Read and check a request file.

    Raises:
        DataError: unreadable JSON, unknown keys, bad entries, or no image asked for (naming the file).
    """
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read the request ({err})", file) from err
    if not isinstance(data, dict) or set(data) - _KEYS or not isinstance(data.get("images"), list):
        raise DataError(f"a request is a JSON object with 'images' (a list) and optionally {sorted(_KEYS - {'images'})}",
                        file)
    labels, seeds = [], []
    for index, item in enumerate(data["images"]):
        more_labels, more_seeds = _entry(item, index, file)
        labels += more_labels
        seeds += more_seeds
    if not labels:
        raise DataError("the request asks for no image", file)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return SynthesisRequest(labels, seeds, str(data.get("modality", "OT")), dict(data.get("sampling") or {}), text)
