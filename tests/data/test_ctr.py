"""Cardiothoracic ratio measured from the image alone separates the phantom labels."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from monai_synth.data.ctr import ctr_from_masks, measure_ctr, measure_ctr_batch
from monai_synth.data.phantom import make_phantom


@pytest.fixture(scope="module")
def phantoms_256() -> list[dict]:
    return [make_phantom(500 + s, 256, label) for s in range(8) for label in (0, 1)]


def test_separates_labels_at_256(phantoms_256: list[dict]) -> None:
    measured = np.array([measure_ctr(p["image"]) for p in phantoms_256])
    labels = np.array([p["label"] for p in phantoms_256])
    true = np.array([p["ctr"] for p in phantoms_256])
    assert np.isfinite(measured).all()
    assert ((measured > 0.5) == (labels == 1)).all()
    assert np.abs(measured - true).mean() < 0.02
    assert np.abs(measured - true).max() < 0.05


@pytest.mark.parametrize(("size", "tolerance"), [(64, 0.04), (128, 0.02)])
def test_other_sizes_close_to_truth(size: int, tolerance: float) -> None:
    """At 64 px a pixel is ~2% of the thoracic width: the error grows accordingly."""
    errors = [measure_ctr(p["image"]) - p["ctr"] for p in (make_phantom(s, size, s % 2) for s in range(8))]
    assert np.isfinite(errors).all()
    assert np.abs(errors).mean() < tolerance


def test_any_intensity_scale_and_layout(phantoms_256: list[dict]) -> None:
    image = phantoms_256[1]["image"]
    reference = measure_ctr(image)
    assert measure_ctr(image[0]) == reference
    assert measure_ctr(torch.from_numpy(image * 2.0 - 1.0)) == pytest.approx(reference, abs=1e-9)
    assert measure_ctr((image * 4000.0 - 1000.0).astype(np.float64)) == pytest.approx(reference, abs=1e-9)
    assert measure_ctr((image * 255).round().astype(np.uint8)) == pytest.approx(reference, abs=0.02)
    assert measure_ctr(np.repeat(image, 3, axis=0)) == pytest.approx(reference, abs=1e-9)


def test_robust_to_noise_and_blur(phantoms_256: list[dict]) -> None:
    """Generated images are noisier and blurrier than the phantom: the measurement must hold up."""
    from scipy import ndimage

    rng = np.random.default_rng(0)
    for p in phantoms_256[:4]:
        degraded = ndimage.gaussian_filter(p["image"][0], 1.5) + rng.normal(0.0, 0.08, p["image"].shape[1:])
        assert measure_ctr(degraded) == pytest.approx(p["ctr"], abs=0.04)


def test_batch(phantoms_256: list[dict]) -> None:
    batch = torch.from_numpy(np.stack([p["image"] for p in phantoms_256[:3]]))
    values = measure_ctr_batch(batch)
    assert values.shape == (3,) and values.dtype == np.float64
    np.testing.assert_allclose(values, [measure_ctr(p["image"]) for p in phantoms_256[:3]])


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((64, 64)),
        np.full((1, 64, 64), np.nan),
        np.random.default_rng(0).random((64, 64)),
        np.zeros((8, 8)),
        np.pad(np.ones((40, 40)), 12),
    ],
    ids=["flat", "nan", "noise", "tiny", "square"],
)
def test_nan_when_not_a_chest(image: np.ndarray) -> None:
    assert math.isnan(measure_ctr(image))


def test_wrong_rank_raises() -> None:
    with pytest.raises(ValueError):
        measure_ctr(np.zeros((2, 1, 32, 32)))


def test_ctr_from_masks() -> None:
    lungs = np.zeros((1, 10, 20), np.uint8)
    heart = np.zeros((1, 10, 20), np.uint8)
    lungs[0, 2:8, 2:8] = lungs[0, 2:8, 12:18] = 1  # thorax width 16
    heart[0, 5:8, 7:13] = 1  # heart width 6
    assert ctr_from_masks(lungs, heart) == pytest.approx(6 / 16)
    assert math.isnan(ctr_from_masks(lungs, np.zeros_like(heart)))
