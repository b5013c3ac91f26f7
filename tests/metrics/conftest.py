"""Fixtures of the metrics tests: a cheap stand-in feature extractor, the real Inception, the real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from monai_synth.metrics.features import iter_images
from monai_synth.metrics.preprocess import to_uint8

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / ".." / "shared" / "data"


class StubExtractor:
    """Deterministic 64-d "features" (8 x 8 average-pooled 8-bit pixels): fast, same interface as the real one."""

    weights_path = "stub"
    weights_sha256 = "0" * 64

    def __init__(self) -> None:
        self.calls = 0
        self.images_seen = 0

    def features(self, images, total=None, desc="") -> np.ndarray:
        self.calls += 1
        rows = []
        for image in iter_images(images):
            x = to_uint8(image).float().mean(dim=0, keepdim=True)[None] / 255.0
            rows.append(F.adaptive_avg_pool2d(x, 8).flatten().numpy())
            self.images_seen += 1
        return np.stack(rows).astype(np.float32)

    __call__ = features


@pytest.fixture
def stub_extractor() -> StubExtractor:
    return StubExtractor()


@pytest.fixture(scope="session")
def reference_inception():
    """The TorchScript Inception as loaded (skips when the weights are not installed)."""
    from monai_synth.metrics.inception_net import load_reference_inception
    from monai_synth.metrics.weights import InceptionWeightsError

    try:
        return load_reference_inception()
    except InceptionWeightsError as err:
        pytest.skip(str(err))


@pytest.fixture(scope="session")
def pneumonia_npz() -> Path:
    path = DATA / "pneumoniamnist" / "pneumoniamnist_28.npz"
    if not path.is_file():
        pytest.skip(f"real data not found: {path}")
    return path


def make_images(count: int, size: int = 32, channels: int = 1, seed: int = 0) -> torch.Tensor:
    """Smooth random images in [-1, 1] (blurred noise), so that SSIM-type metrics are meaningful."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(count, channels, size // 4, size // 4, generator=generator)
    return (F.interpolate(noise, size=(size, size), mode="bilinear", align_corners=False) * 2 - 1).clamp(-1, 1)
