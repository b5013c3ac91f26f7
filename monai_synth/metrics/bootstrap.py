"""Seeded percentile-bootstrap confidence intervals.

- :func:`bootstrap_ci`: resample both sets with replacement (same sizes), recompute a statistic of the
  two index arrays, take the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` percentiles.
- :func:`fid_ci`: that, for FID, re-centred on the point estimate. FID is biased upwards by an amount
  that grows as the number of distinct images shrinks, and a resample with replacement holds only
  about 63% distinct images, so the raw replicates sit well above the FID of the full sets (for
  2048-d features and a few hundred images, the whole raw interval can lie above it). The interval
  reported is ``FID + (q_lo - m, q_hi - m)`` with ``q`` the replicate percentiles and ``m`` their mean:
  the sampling spread of FID at this sample size, around the number reported. Each replicate uses the
  exact identity
  ``Tr((S1 S2)^{1/2}) = ||A B^T||_* / sqrt((n1 - 1)(n2 - 1))`` (``A``, ``B`` the centred features, ``||.||_*``
  the nuclear norm) when a set is smaller than the feature width, which is much faster than two
  2048 x 2048 eigendecompositions and gives the same value.
- :func:`mean_ci`: interval of a mean of per-sample values (used for precision and recall, whose
  indicators are resampled with the other set's manifold held fixed: k-NN radii of a resample with
  duplicated points are not meaningful).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from monai_synth.metrics.frechet import fid_from_features

__all__ = ["bootstrap_values", "bootstrap_ci", "mean_ci", "fid_gram", "fid_ci"]


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    tail = (1.0 - confidence) / 2.0 * 100.0
    lo, hi = np.percentile(values, [tail, 100.0 - tail])
    return float(lo), float(hi)


def bootstrap_values(
    statistic: Callable[[np.ndarray, np.ndarray], float], n_real: int, n_fake: int, num_resamples: int, seed: int
) -> np.ndarray:
    """Bootstrap replicates of a two-sample statistic (both index sets drawn with replacement)."""
    rng = np.random.default_rng(seed)
    values = [statistic(rng.integers(0, n_real, n_real), rng.integers(0, n_fake, n_fake)) for _ in range(num_resamples)]
    return np.asarray(values, dtype=np.float64)


def bootstrap_ci(
    statistic: Callable[[np.ndarray, np.ndarray], float],
    n_real: int,
    n_fake: int,
    num_resamples: int = 50,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of a two-sample statistic.

    Args:
        statistic: function of ``(real_indices, fake_indices)`` returning a float.
        n_real: size of the real set.
        n_fake: size of the generated set.
        num_resamples: number of bootstrap replicates.
        confidence: interval coverage (0.95: 2.5th to 97.5th percentile).
        seed: seed of ``numpy.random.default_rng``.

    Returns:
        ``(low, high)``.
    """
    return _interval(bootstrap_values(statistic, n_real, n_fake, num_resamples, seed), confidence)


def mean_ci(
    values: np.ndarray, num_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-sample values.

    Args:
        values: ``(N,)`` numbers (e.g. bool indicators).
        num_resamples: number of bootstrap replicates.
        confidence: interval coverage.
        seed: seed of ``numpy.random.default_rng``.

    Returns:
        ``(low, high)``.
    """
    values = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, (num_resamples, values.size))].mean(axis=1)
    return _interval(means, confidence)


def fid_gram(features1: np.ndarray, features2: np.ndarray) -> float:
    """FID through the nuclear norm of the cross Gram matrix of the centred features (float64).

    Equal to :func:`~monai_synth.metrics.frechet.fid_from_features` (exact identity), and cheaper when
    ``min(N1, N2)`` is below the feature width.
    """
    a = np.asarray(features1, np.float64)
    b = np.asarray(features2, np.float64)
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    n1, n2 = a.shape[0], b.shape[0]
    mean_diff = np.asarray(features1, np.float64).mean(axis=0) - np.asarray(features2, np.float64).mean(axis=0)
    trace1 = np.einsum("ij,ij->", a, a) / (n1 - 1)
    trace2 = np.einsum("ij,ij->", b, b) / (n2 - 1)
    cross = np.linalg.svd(a @ b.T, compute_uv=False).sum() / np.sqrt((n1 - 1) * (n2 - 1))
    return float(mean_diff @ mean_diff + trace1 + trace2 - 2.0 * cross)


def fid_ci(
    real: np.ndarray, fake: np.ndarray, num_resamples: int = 50, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Bootstrap interval of FID (both sets resampled with replacement), re-centred on the FID of the
    full sets (see the module docstring).

    Args:
        real: ``(N1, D)`` real features.
        fake: ``(N2, D)`` generated features.
        num_resamples: number of replicates.
        confidence: interval coverage.
        seed: seed.

    Returns:
        ``(low, high)``.
    """
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    small = min(real.shape[0], fake.shape[0]) < real.shape[1]
    fid = fid_gram if small else fid_from_features
    values = bootstrap_values(lambda r, f: fid(real[r], fake[f]), real.shape[0], fake.shape[0], num_resamples, seed)
    lo, hi = _interval(values, confidence)
    shift = fid(real, fake) - values.mean()
    return float(lo + shift), float(hi + shift)
