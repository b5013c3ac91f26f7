"""Statistics of a visual Turing test, as pure functions of answer counts and lists.

Conventions follow the StyleGAN2-ADA evaluation study ("Evaluating the Performance of StyleGAN2-ADA on
Medical Images"): the *positive* class is "real". A true positive is a real image called real, a false
positive a synthetic image called real (the reader was fooled), a false negative a real image called
synthetic. So FPR = FP / (FP + TN) is the fraction of synthetic images taken for real (higher means more
realistic synthetic images), FNR = FN / (TP + FN) the fraction of real images taken for synthetic.

Intervals are exact (Clopper-Pearson) binomial intervals; permutation tests take a seed, so that a report
is reproducible.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "ConfusionCounts",
    "binomial_test",
    "classification_rates",
    "confusion_counts",
    "exact_interval",
    "fleiss_kappa",
    "pearson_permutation",
    "permutation_test_accuracy",
    "permutation_test_mean_difference",
    "rating_table",
]

ConfusionCounts = dict[str, int]


def exact_interval(k: int, n: int, confidence: float = 0.95) -> dict[str, Any]:
    """A proportion ``k / n`` with its exact (Clopper-Pearson) binomial interval.

    Args:
        k: successes.
        n: trials (0 gives ``value``, ``low`` and ``high`` of ``None``).
        confidence: confidence level of the interval, in (0, 1).

    Returns:
        ``{"k", "n", "value", "low", "high"}``.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n == 0:
        return {"k": 0, "n": 0, "value": None, "low": None, "high": None}
    from scipy.stats import binomtest

    interval = binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="exact")
    return {"k": int(k), "n": int(n), "value": k / n, "low": float(interval.low), "high": float(interval.high)}


def binomial_test(k: int, n: int, p: float = 0.5) -> float | None:
    """Two-sided exact binomial test of ``k`` successes in ``n`` trials against probability ``p``.

    Returns:
        The p-value, or ``None`` when ``n`` is 0.
    """
    if n == 0:
        return None
    from scipy.stats import binomtest

    return float(binomtest(int(k), int(n), p=p, alternative="two-sided").pvalue)


def confusion_counts(truth_real: Sequence[bool], said_real: Sequence[bool]) -> ConfusionCounts:
    """Counts of the 2 x 2 table with "real" as the positive class.

    Args:
        truth_real: whether each image is real.
        said_real: whether the reader called it real.

    Returns:
        ``{"tp", "fp", "fn", "tn"}``.
    """
    if len(truth_real) != len(said_real):
        raise ValueError(f"{len(truth_real)} truths but {len(said_real)} answers")
    pairs = list(zip(map(bool, truth_real), map(bool, said_real)))
    return {"tp": pairs.count((True, True)), "fp": pairs.count((False, True)),
            "fn": pairs.count((True, False)), "tn": pairs.count((False, False))}


def classification_rates(counts: ConfusionCounts, confidence: float = 0.95) -> dict[str, dict[str, Any]]:
    """Precision, recall, accuracy, FPR and FNR of a 2 x 2 table, each with its exact interval.

    Args:
        counts: ``{"tp", "fp", "fn", "tn"}`` as from :func:`confusion_counts`.
        confidence: confidence level of the intervals.
    """
    tp, fp, fn, tn = (counts[key] for key in ("tp", "fp", "fn", "tn"))
    return {
        "precision": exact_interval(tp, tp + fp, confidence),
        "recall": exact_interval(tp, tp + fn, confidence),
        "accuracy": exact_interval(tp + tn, tp + fp + fn + tn, confidence),
        "fpr": exact_interval(fp, fp + tn, confidence),
        "fnr": exact_interval(fn, tp + fn, confidence),
    }


def _two_sided_p(observed: float, null: np.ndarray) -> float:
    """Permutation p-value with the observed arrangement counted (never 0): (1 + #extreme) / (1 + B)."""
    extreme = int(np.count_nonzero(np.abs(null) >= abs(observed) - 1e-12))
    return (1 + extreme) / (1 + len(null))


def permutation_test_mean_difference(a: Sequence[float], b: Sequence[float], permutations: int = 10000,
                                     seed: int = 0) -> dict[str, Any]:
    """Two-sided permutation test of ``mean(a) - mean(b)`` (e.g. Likert scores of real against synthetic).

    The group labels are shuffled ``permutations`` times with a seeded generator.

    Returns:
        ``{"difference", "p", "permutations"}``; ``difference`` and ``p`` are ``None`` when a group is empty.
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.size == 0 or y.size == 0:
        return {"difference": None, "p": None, "permutations": 0}
    pooled = np.concatenate([x, y])
    rng = np.random.default_rng(seed)
    null = np.empty(permutations)
    for i in range(permutations):
        shuffled = rng.permutation(pooled)
        null[i] = shuffled[: x.size].mean() - shuffled[x.size:].mean()
    observed = float(x.mean() - y.mean())
    return {"difference": observed, "p": _two_sided_p(observed, null), "permutations": int(permutations)}


def permutation_test_accuracy(truth_real: Sequence[bool], said_real: Sequence[bool], permutations: int = 10000,
                              seed: int = 0) -> dict[str, Any]:
    """Permutation test of whether a reader's answers depend on the truth (accuracy against shuffled truth).

    Under the null hypothesis the reader cannot tell real from synthetic, so shuffling which images are
    real leaves the accuracy's distribution unchanged. Two-sided around the null mean.

    Returns:
        ``{"accuracy", "p", "permutations"}`` (``None`` values when there are no answers).
    """
    truth, said = np.asarray(truth_real, dtype=bool), np.asarray(said_real, dtype=bool)
    if truth.size == 0:
        return {"accuracy": None, "p": None, "permutations": 0}
    rng = np.random.default_rng(seed)
    null = np.array([np.mean(rng.permutation(truth) == said) for _ in range(permutations)])
    observed = float(np.mean(truth == said))
    centre = float(null.mean())
    return {"accuracy": observed, "p": _two_sided_p(observed - centre, null - centre),
            "permutations": int(permutations)}


def rating_table(ratings: dict[Any, Sequence[Any]], categories: Sequence[Any]) -> np.ndarray:
    """Fleiss' input table: one row per item, one column per category, the number of raters who chose it.

    Args:
        ratings: item -> the category each rater chose (all items with the same number of raters).
        categories: all categories, in column order.
    """
    column = {category: j for j, category in enumerate(categories)}
    table = np.zeros((len(ratings), len(categories)), dtype=np.int64)
    for i, chosen in enumerate(ratings.values()):
        for category in chosen:
            table[i, column[category]] += 1
    return table


def fleiss_kappa(table: np.ndarray | Sequence[Sequence[int]]) -> float | None:
    """Fleiss' kappa (Fleiss 1971, "Measuring nominal scale agreement among many raters").

    Args:
        table: N items x k categories; entry (i, j) is how many raters put item i in category j. Every row
            sums to the same number of raters n >= 2.

    Returns:
        kappa = (P_bar - P_e) / (1 - P_e), where P_i = (sum_j n_ij^2 - n) / (n (n - 1)), P_bar = mean P_i,
        p_j = sum_i n_ij / (N n) and P_e = sum_j p_j^2; ``None`` when there are no items, fewer than two
        raters, or every answer falls in one category (P_e = 1, kappa undefined).
    """
    counts = np.asarray(table, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] == 0:
        return None
    raters = counts.sum(axis=1)
    if not np.all(raters == raters[0]):
        raise ValueError(f"every item needs the same number of ratings, got {sorted(set(raters.tolist()))}")
    n = raters[0]
    if n < 2:
        return None
    p_items = (np.square(counts).sum(axis=1) - n) / (n * (n - 1))
    p_categories = counts.sum(axis=0) / (counts.shape[0] * n)
    p_bar, p_e = p_items.mean(), np.square(p_categories).sum()
    if math.isclose(p_e, 1.0):
        return None
    return float((p_bar - p_e) / (1 - p_e))


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    dx, dy = x - x.mean(), y - y.mean()
    return float((dx * dy).sum() / math.sqrt((dx * dx).sum() * (dy * dy).sum()))


def pearson_permutation(x: Sequence[float], y: Sequence[float], permutations: int = 10000,
                        seed: int = 0) -> dict[str, Any]:
    """Pearson r of ``x`` and ``y`` with a two-sided permutation p-value.

    With at most 8 points every permutation of ``y`` is enumerated (an exact p); otherwise ``permutations``
    random permutations from a seeded generator are used.

    Returns:
        ``{"r", "p", "n", "exact"}``; ``r`` and ``p`` are ``None`` with fewer than 3 points or a constant
        variable.
    """
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"x has {a.size} values, y has {b.size}")
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return {"r": None, "p": None, "n": int(a.size), "exact": False}
    observed = _pearson(a, b)
    exact = a.size <= 8
    if exact:
        orders = (np.array(order) for order in itertools.permutations(range(a.size)))
        null = np.array([_pearson(a, b[order]) for order in orders])
        p = float(np.count_nonzero(np.abs(null) >= abs(observed) - 1e-12) / len(null))
    else:
        rng = np.random.default_rng(seed)
        null = np.array([_pearson(a, rng.permutation(b)) for _ in range(permutations)])
        p = _two_sided_p(observed, null)
    return {"r": observed, "p": p, "n": int(a.size), "exact": exact}
