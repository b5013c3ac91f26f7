"""Shared helpers of the audit tests: tiny image folders and a cheap stand-in for the Inception network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from monai_synth.metrics.features import iter_images
from monai_synth.metrics.preprocess import to_uint8

REPO = Path(__file__).resolve().parents[2]


class StubExtractor:
    """Deterministic 64-d "features" (8 x 8 average-pooled 8-bit pixels) with the Inception extractor's interface."""

    weights_path = "stub"
    weights_sha256 = "0" * 64

    def __init__(self) -> None:
        self.images_seen = 0

    def features(self, images, total=None, desc="") -> np.ndarray:
        rows = []
        for image in iter_images(images):
            x = to_uint8(image).float().mean(dim=0, keepdim=True)[None] / 255.0
            rows.append(F.adaptive_avg_pool2d(x, 8).flatten().numpy())
            self.images_seen += 1
        return np.stack(rows).astype(np.float32) if rows else np.zeros((0, 64), np.float32)

    __call__ = features


def phantoms(seeds, size: int = 32) -> torch.Tensor:
    """Phantom radiographs ``(N, 1, size, size)`` in ``[-1, 1]``, one per seed."""
    from monai_synth.data.phantom import make_phantom

    return torch.tensor(np.stack([make_phantom(seed=int(s), size=size)["image"] for s in seeds])).float() * 2 - 1


def write_pngs(images: torch.Tensor, folder: Path, prefix: str = "img") -> Path:
    """Images ``(N, C, H, W)`` in ``[-1, 1]`` as 8-bit PNG files (grayscale or RGB)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        array = ((image.clamp(-1, 1) + 1) * 127.5).round().byte().numpy()
        array = array[0] if array.shape[0] == 1 else np.moveaxis(array, 0, -1)
        Image.fromarray(array).save(folder / f"{prefix}_{i:03d}.png")
    return folder
