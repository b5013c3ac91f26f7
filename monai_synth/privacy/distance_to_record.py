"""Distance to closest record (DCR) and nearest-neighbour distance ratio (NNDR), against a hold-out baseline.

- DCR of an image: its distance to the nearest training image. If the generator copies, its images sit closer
  to the training set than unseen real images do.
- NNDR of an image: distance to the nearest training image over distance to the second nearest. A value near 0
  means the image is much closer to one particular training image than to any other (a copy of that image);
  values near 1 mean it sits among several training images alike.

Neither number means much alone (distances depend on the data and the space), so both are compared with the
same number for hold-out images (real, unseen). The comparison is a one-sided Mann-Whitney U test of "synthetic
values are smaller than hold-out values", with its effect size ``closer_share``: the probability that a random
synthetic image has the smaller value than a random hold-out image (ties count half; 0.5 = like unseen real
images, 1 = always closer). The verdict flags when ``p < alpha``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import mannwhitneyu

__all__ = ["distance_ratio", "compare_to_holdout"]


def distance_ratio(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``first / second`` of nearest and second-nearest distances; 0 where both are 0 (a copy of a duplicate)."""
    d1, d2 = np.asarray(first, np.float64), np.asarray(second, np.float64)
    return np.divide(d1, d2, out=np.zeros_like(d1), where=d2 > 0)


def _summary(values: np.ndarray) -> dict[str, float]:
    return {"median": float(np.median(values)), "p05": float(np.percentile(values, 5)), "mean": float(values.mean())}


def compare_to_holdout(synthetic: np.ndarray, holdout: np.ndarray, alpha: float = 0.05) -> dict[str, Any]:
    """One-sided test that synthetic values are smaller than hold-out values.

    Args:
        synthetic: ``(N,)`` values of the synthetic images (DCR or NNDR).
        holdout: ``(M,)`` values of the hold-out images.
        alpha: significance level of the verdict.

    Returns:
        ``synthetic`` and ``holdout`` summaries (median, 5th percentile, mean), ``closer_share``, ``p_value``,
        ``alpha`` and ``flagged``.

    Raises:
        ValueError: when either set is empty.
    """
    s, h = np.asarray(synthetic, np.float64), np.asarray(holdout, np.float64)
    if s.size == 0 or h.size == 0:
        raise ValueError("both the synthetic and the hold-out values are needed")
    test = mannwhitneyu(s, h, alternative="less")
    # U counts the pairs where the synthetic value is the larger (ties half): 1 - U / (n m) is the closer share
    closer = 1.0 - float(test.statistic) / (s.size * h.size)
    p_value = float(test.pvalue)
    return {
        "synthetic": _summary(s),
        "holdout": _summary(h),
        "closer_share": closer,
        "p_value": p_value,
        "alpha": float(alpha),
        "flagged": bool(p_value < alpha),
    }
