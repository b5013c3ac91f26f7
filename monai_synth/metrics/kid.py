"""Kernel Inception Distance: unbiased MMD^2 with a cubic polynomial kernel, averaged over subsets.

Binkowski, Sutherland, Arbel and Gretton, "Demystifying MMD GANs" (ICLR 2018), as implemented in
torch-fidelity (``kid_subsets=100``, ``kid_subset_size=1000``, ``kid_degree=3``, ``kid_gamma=1/d``,
``kid_coef0=1``, subsets drawn with ``numpy.random.RandomState(seed).choice(n, m, replace=False)``, the generated
subset before the real one in every round as in ``calculate_metrics(input1=generated, input2=real)``;
torch-fidelity's default seed is 2020, ours too):

    k(x, y) = (x . y / d + 1)^3
    MMD^2_u = sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1))
              - 2 sum_{i, j} k(x_i, y_j) / m^2

KID is the mean over subsets and ``kid_std`` their standard deviation (``np.std``, divisor n). All in
float64. When a set has fewer than ``subset_size`` rows the subset size is reduced to the smaller set, as
StyleGAN2-ADA and clean-fid do (torch-fidelity refuses instead); the size used is returned. When it
equals both set sizes every subset is the whole set: ``kid_mean`` is then the unbiased MMD^2 of the full
sets and ``kid_std`` is 0.
"""

from __future__ import annotations

import numpy as np

__all__ = ["polynomial_kernel", "mmd2_unbiased", "kernel_inception_distance"]


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, gamma: float | None = None, coef0: float = 1.0):
    """``(gamma * x @ y.T + coef0) ** degree`` with ``gamma = 1 / d`` by default (float64)."""
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    return (np.asarray(x, np.float64) @ np.asarray(y, np.float64).T * gamma + coef0) ** degree


def mmd2_unbiased(k_xx: np.ndarray, k_yy: np.ndarray, k_xy: np.ndarray) -> float:
    """Unbiased MMD^2 from the three kernel matrices of two equal-size samples.

    Args:
        k_xx: ``(m, m)`` kernel of the first sample with itself.
        k_yy: ``(m, m)`` kernel of the second sample with itself.
        k_xy: ``(m, m)`` cross kernel.

    Returns:
        The estimate (can be slightly negative).
    """
    m = k_xx.shape[0]
    sum_xx = k_xx.sum() - np.trace(k_xx)
    sum_yy = k_yy.sum() - np.trace(k_yy)
    return float((sum_xx + sum_yy) / (m * (m - 1)) - 2.0 * k_xy.sum() / (m * m))


def kernel_inception_distance(
    real: np.ndarray,
    fake: np.ndarray,
    subset_size: int = 1000,
    num_subsets: int = 100,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    seed: int = 2020,
) -> tuple[float, float, int]:
    """KID between two feature sets.

    Args:
        real: ``(N1, D)`` features of the real set.
        fake: ``(N2, D)`` features of the generated set.
        subset_size: rows per subset (reduced to ``min(N1, N2)`` when larger).
        num_subsets: number of random subset pairs.
        degree: polynomial degree.
        gamma: kernel scale (``None``: ``1 / D``).
        coef0: kernel offset.
        seed: seed of the ``RandomState`` drawing the subsets.

    Returns:
        ``(kid_mean, kid_std, subset_size_used)``.

    Raises:
        ValueError: when a set has fewer than 2 rows or the widths differ.
    """
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"need two (N, D) feature sets of the same D, got {real.shape} and {fake.shape}")
    m = min(subset_size, real.shape[0], fake.shape[0])
    if m < 2:
        raise ValueError(f"KID needs at least 2 samples per set, got {real.shape[0]} and {fake.shape[0]}")
    rng = np.random.RandomState(seed)
    mmds = np.empty(num_subsets)
    for i in range(num_subsets):
        y = fake[rng.choice(fake.shape[0], m, replace=False)]  # torch-fidelity's input1 (generated) first
        x = real[rng.choice(real.shape[0], m, replace=False)]
        mmds[i] = mmd2_unbiased(
            polynomial_kernel(x, x, degree, gamma, coef0),
            polynomial_kernel(y, y, degree, gamma, coef0),
            polynomial_kernel(x, y, degree, gamma, coef0),
        )
    return float(mmds.mean()), float(mmds.std()), m
