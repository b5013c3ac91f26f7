"""A copy threshold calibrated on real patients, and the share of synthetic images above it.

How close can an image come to the training set by chance? A real image of a patient who was not in training
answers that: its nearest-training-neighbour similarity is what "similar, but not a copy" looks like in this
data. The threshold is the ``percentile``-th percentile (95th by default) of those hold-out similarities: only
5 % of unseen real patients are that close to a training image. A generator that has learnt the population
without memorising its training images places about the same 5 % of its images above it; a generator that
reproduces training images places many more.

The interval of the share is a two-sample percentile bootstrap: each replicate resamples the hold-out set (and
so re-calibrates the threshold) and the synthetic set, so that the threshold's own uncertainty is included.
The verdict flags copying when the whole interval lies above the share expected by chance,
``1 - percentile / 100``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from monai_synth.metrics.bootstrap import bootstrap_ci

__all__ = ["calibrated_threshold", "share_above", "copy_rate"]


def calibrated_threshold(holdout_similarity: np.ndarray, percentile: float = 95.0) -> float:
    """The ``percentile``-th percentile (NumPy's linear rule) of the hold-out nearest-training similarities.

    Raises:
        ValueError: empty input or a percentile outside ``(0, 100)``.
    """
    values = np.asarray(holdout_similarity, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no hold-out similarities to calibrate the copy threshold on")
    if not 0.0 < percentile < 100.0:
        raise ValueError(f"percentile must be in (0, 100), got {percentile}")
    return float(np.percentile(values, percentile))


def share_above(similarity: np.ndarray, threshold: float) -> float:
    """Share of values strictly above the threshold."""
    values = np.asarray(similarity, dtype=np.float64)
    return float((values > threshold).mean()) if values.size else float("nan")


def copy_rate(
    synthetic_similarity: np.ndarray,
    holdout_similarity: np.ndarray,
    percentile: float = 95.0,
    num_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Calibrated copy threshold, the share of synthetic images above it, its interval and the verdict.

    Args:
        synthetic_similarity: ``(N,)`` nearest-training similarity of every synthetic image.
        holdout_similarity: ``(M,)`` nearest-training similarity of every hold-out image.
        percentile: hold-out percentile that sets the threshold.
        num_bootstrap: bootstrap replicates (0: no interval; the verdict then uses the point estimate).
        confidence: interval coverage.
        seed: bootstrap seed.

    Returns:
        ``threshold``, ``share`` (synthetic images above it), ``share_ci``, ``expected_share`` (by chance),
        ``holdout_share`` (hold-out images above it, close to ``expected_share`` by construction), ``flagged``.
    """
    synthetic = np.asarray(synthetic_similarity, dtype=np.float64)
    holdout = np.asarray(holdout_similarity, dtype=np.float64)
    threshold = calibrated_threshold(holdout, percentile)
    share = share_above(synthetic, threshold)
    expected = 1.0 - percentile / 100.0
    interval = None
    if num_bootstrap > 0:
        def statistic(h: np.ndarray, s: np.ndarray) -> float:
            return share_above(synthetic[s], calibrated_threshold(holdout[h], percentile))

        interval = list(bootstrap_ci(statistic, holdout.size, synthetic.size, num_bootstrap, confidence, seed))
    low = interval[0] if interval else share
    return {
        "threshold": threshold,
        "percentile": float(percentile),
        "share": share,
        "share_ci": interval,
        "expected_share": expected,
        "holdout_share": share_above(holdout, threshold),
        "count": int((synthetic > threshold).sum()),
        "flagged": bool(low > expected),
    }
