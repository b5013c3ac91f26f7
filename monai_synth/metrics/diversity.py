"""Diversity of an image set: mean MS-SSIM over random pairs of distinct images.

Lower values mean a more diverse set; a collapsed generator approaches 1. Compare the value of the
synthetic set with that of the real set (as in Odena et al. 2017 and the Medfusion paper). Pairs
``(i, j)`` with ``i != j`` are drawn uniformly with a seeded ``numpy`` generator; MS-SSIM settings for
small images are in :mod:`monai_synth.metrics.ssim`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from monai_synth.metrics.ssim import ms_ssim_pairs

__all__ = ["random_pairs", "pairwise_ms_ssim", "mean_pairwise_ms_ssim"]


def random_pairs(n: int, num_pairs: int, seed: int = 0) -> np.ndarray:
    """``num_pairs`` random index pairs ``(i, j)``, ``i != j``, from ``range(n)`` (with repetition across pairs).

    Args:
        n: set size (>= 2).
        num_pairs: how many pairs.
        seed: seed of ``numpy.random.default_rng``.

    Returns:
        int array ``(num_pairs, 2)``.

    Raises:
        ValueError: when ``n < 2``.
    """
    if n < 2:
        raise ValueError(f"need at least 2 images for pairs, got {n}")
    rng = np.random.default_rng(seed)
    first = rng.integers(0, n, num_pairs)
    second = (first + rng.integers(1, n, num_pairs)) % n  # uniform over the n - 1 other images
    return np.stack([first, second], axis=1)


def _stack(images: torch.Tensor | Sequence[torch.Tensor], indices: np.ndarray) -> torch.Tensor:
    picked = [torch.as_tensor(images[int(i)]).float() for i in indices]
    shapes = {tuple(p.shape) for p in picked}
    if len(shapes) != 1:
        raise ValueError(f"MS-SSIM needs images of one size; found shapes {sorted(shapes)}")
    return torch.stack(picked)


def pairwise_ms_ssim(
    images: torch.Tensor | Sequence[torch.Tensor], num_pairs: int = 1000, seed: int = 0, batch_size: int = 128
) -> np.ndarray:
    """MS-SSIM of random pairs of distinct images from one set.

    Args:
        images: ``(N, C, H, W)`` tensor or a sequence of ``(C, H, W)`` tensors of one size, in ``[-1, 1]``.
        num_pairs: number of pairs.
        seed: pair-sampling seed.
        batch_size: pairs per MS-SSIM call.

    Returns:
        float64 array ``(num_pairs,)``.
    """
    pairs = random_pairs(len(images), num_pairs, seed)
    values = []
    for start in range(0, num_pairs, batch_size):
        chunk = pairs[start : start + batch_size]
        values.append(ms_ssim_pairs(_stack(images, chunk[:, 0]), _stack(images, chunk[:, 1])).double().numpy())
    return np.concatenate(values) if values else np.zeros(0)


def mean_pairwise_ms_ssim(
    images: torch.Tensor | Sequence[torch.Tensor], num_pairs: int = 1000, seed: int = 0
) -> float:
    """Mean MS-SSIM over random pairs of distinct images (see :func:`pairwise_ms_ssim`)."""
    return float(pairwise_ms_ssim(images, num_pairs, seed).mean())
