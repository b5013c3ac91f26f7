"""Constructed labelled image sets for the utility tests (helpers; the fixtures are in conftest.py): three classes a small classifier tells apart at once.

Class 0: a bright left half; class 1: a bright top half; class 2: a dark centre square; plus noise. Real data is
a ``train/`` and ``test/`` layout of class folders, synthetic data one folder of class folders.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

#: the settings of a small study that runs in seconds on a CPU
SMALL = {
    "networks": ["monai_classifier"], "real_fractions": [0.5], "synthetic_multiples": [1.0], "seeds": [0],
    "train_steps": 40, "batch_size": 16, "num_bootstrap": 50, "progress": False, "device": "cpu",
}  # fmt: skip


def pattern(label: int, rng: np.random.Generator, size: int = 16) -> np.ndarray:
    """One 8-bit image of class ``label``."""
    image = rng.normal(110, 12, (size, size))
    half = size // 2
    if label == 0:
        image[:, :half] += 90
    elif label == 1:
        image[:half, :] += 90
    else:
        image[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] -= 90
    return np.clip(image, 0, 255).astype(np.uint8)


def write_class_folders(folder: Path, counts: Sequence[int], seed: int, size: int = 16, mode: str = "L",
                        labels: Sequence[int] | None = None) -> Path:  # fmt: skip
    """``counts[c]`` images in ``folder/c<c>/`` drawn from the pattern of ``labels[c]`` (default ``c``)."""
    rng = np.random.default_rng(seed)
    for c, n in enumerate(counts):
        sub = folder / f"c{c}"
        sub.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            image = Image.fromarray(pattern(labels[c] if labels else c, rng, size))
            image.convert(mode).save(sub / f"{i:03d}.png")
    return folder
