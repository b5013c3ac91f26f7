"""Classification scores of a real test set, with bootstrap intervals over its images.

- accuracy: share of test images whose arg-max class is their label;
- balanced accuracy: mean over classes of the share of that class's images classified correctly (the recall
  per class), as ``sklearn.metrics.balanced_accuracy_score``;
- macro AUROC: mean over classes of the area under the one-vs-rest ROC curve of the class probability, as
  ``sklearn.metrics.roc_auc_score(..., multi_class="ovr", average="macro")`` (ties count one half; for two
  classes both one-vs-rest curves equal the binary AUROC).

Every function is vectorised over bootstrap replicates: it takes an index matrix ``(B, n)`` whose rows are
resamples of the test images, and the point estimate is the row ``arange(n)``. Resamples are stratified by
class (each class resampled with replacement within itself, so class counts stay fixed): a replicate
therefore never lacks a class, and balanced accuracy and AUROC are defined in every replicate.

Results of several training seeds are combined as the mean over seeds; its interval resamples the test images
once per replicate and applies the same resample to every seed's predictions, so it measures how much the
seed-averaged figure depends on which test images were drawn. The spread over seeds (their standard
deviation) is reported beside it: it measures how much the figure depends on training randomness.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata

__all__ = [
    "METRICS",
    "accuracy_rows",
    "auroc_rows",
    "balanced_accuracy_rows",
    "classification_scores",
    "paired_difference",
    "score_rows",
    "stratified_resamples",
]

METRICS: tuple[str, ...] = ("accuracy", "balanced_accuracy", "auroc")
"""Names of the scores, in report order (``auroc``: macro one-vs-rest AUROC)."""


def stratified_resamples(labels: np.ndarray, num_resamples: int, seed: int) -> np.ndarray:
    """Index matrix ``(num_resamples, n)``: each row resamples every class's images with replacement.

    Args:
        labels: ``(n,)`` class of each test image.
        num_resamples: number of rows.
        seed: seed of ``numpy.random.default_rng``.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    columns = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        columns.append(members[rng.integers(0, members.size, (num_resamples, members.size))])
    if not columns:
        return np.zeros((num_resamples, 0), dtype=np.int64)
    return np.concatenate(columns, axis=1)


def accuracy_rows(labels: np.ndarray, predicted: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Accuracy of each resample (row of indices): ``(B,)``."""
    correct = np.asarray(predicted) == np.asarray(labels)
    return correct[rows].mean(axis=1)


def balanced_accuracy_rows(labels: np.ndarray, predicted: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Mean per-class recall of each resample, over the classes present in ``labels``: ``(B,)``."""
    labels = np.asarray(labels)
    correct = (np.asarray(predicted) == labels)[rows]
    drawn = labels[rows]
    recalls = []
    for c in np.unique(labels):
        members = drawn == c
        recalls.append((correct & members).sum(axis=1) / np.maximum(members.sum(axis=1), 1))
    return np.mean(recalls, axis=0)


def auroc_rows(labels: np.ndarray, probabilities: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Macro one-vs-rest AUROC of each resample (Mann-Whitney statistic with mid-ranks for ties): ``(B,)``.

    Classes present in ``labels`` enter the mean; a class whose images are all the test set (no negatives)
    cannot be scored and is left out. With two classes it is the binary AUROC of class 1's probability (the
    same value, computed once, so that rounding cannot make the two one-vs-rest areas differ).
    """
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    drawn = labels[rows]
    n = rows.shape[1]
    areas = []
    classes = np.unique(labels)
    if probabilities.shape[1] == 2:
        classes = classes[classes == 1]  # two classes: both one-vs-rest areas are the binary AUROC of class 1
    for c in classes:
        positive = drawn == c
        n_pos = positive.sum(axis=1)
        n_neg = n - n_pos
        if np.any(n_neg == 0):
            continue
        ranks = rankdata(probabilities[rows, c], axis=1)
        areas.append(((ranks * positive).sum(axis=1) - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))
    if not areas:
        return np.full(rows.shape[0], np.nan)
    return np.mean(areas, axis=0)


def score_rows(labels: np.ndarray, probabilities: np.ndarray, rows: np.ndarray) -> dict[str, np.ndarray]:
    """All :data:`METRICS` of each resample: ``{name: (B,)}``.

    Args:
        labels: ``(n,)`` true classes.
        probabilities: ``(n, C)`` class probabilities (arg-max is the prediction).
        rows: ``(B, n)`` resample indices.
    """
    predicted = np.asarray(probabilities).argmax(axis=1)
    return {
        "accuracy": accuracy_rows(labels, predicted, rows),
        "balanced_accuracy": balanced_accuracy_rows(labels, predicted, rows),
        "auroc": auroc_rows(labels, probabilities, rows),
    }


def _interval(values: np.ndarray, confidence: float) -> list[float] | None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    tail = (1.0 - confidence) / 2.0 * 100.0
    return [float(v) for v in np.percentile(values, [tail, 100.0 - tail])]


def _seed_means(labels, probabilities: Sequence[np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    """Per metric, the mean over seeds of each resample's score: ``{name: (B,)}``."""
    per_seed = [score_rows(labels, p, rows) for p in probabilities]
    return {m: np.mean([s[m] for s in per_seed], axis=0) for m in METRICS}


def classification_scores(
    labels: np.ndarray,
    probabilities: Sequence[np.ndarray],
    num_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, dict]:
    """Scores of one setting trained with several seeds, on the same test images.

    Args:
        labels: ``(n,)`` true classes of the test images.
        probabilities: one ``(n, C)`` array of class probabilities per training seed.
        num_resamples: bootstrap replicates (0: no intervals).
        confidence: interval coverage.
        seed: seed of the resampling.

    Returns:
        ``{metric: {"mean", "std", "per_seed", "ci"}}``: mean over seeds, their standard deviation (``ddof=1``;
        0 for one seed), each seed's value, and the bootstrap interval of the mean (``None`` without
        resamples).
    """
    labels = np.asarray(labels)
    if not probabilities:
        raise ValueError("no predictions to score")
    point = np.arange(labels.size)[None]
    values = [score_rows(labels, p, point) for p in probabilities]
    boot = _seed_means(labels, probabilities, stratified_resamples(labels, num_resamples, seed)) if num_resamples else {}
    out: dict[str, dict] = {}
    for m in METRICS:
        per_seed = [float(v[m][0]) for v in values]
        out[m] = {
            "mean": float(np.mean(per_seed)),
            "std": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else 0.0,
            "per_seed": per_seed,
            "ci": _interval(boot[m], confidence) if m in boot else None,
        }
    return out


def paired_difference(
    labels: np.ndarray,
    probabilities: Sequence[np.ndarray],
    baseline: Sequence[np.ndarray],
    num_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, dict]:
    """Difference of seed-averaged scores, ``probabilities`` minus ``baseline``, on the same test images.

    Each replicate resamples the test images once and scores both settings on that resample (a paired
    bootstrap), so the interval leaves out the test-set variation the two settings share.

    Returns:
        ``{metric: {"value", "ci"}}``.
    """
    labels = np.asarray(labels)
    point = np.arange(labels.size)[None]
    here, there = _seed_means(labels, probabilities, point), _seed_means(labels, baseline, point)
    rows = stratified_resamples(labels, num_resamples, seed) if num_resamples else None
    boot_here = _seed_means(labels, probabilities, rows) if rows is not None else {}
    boot_there = _seed_means(labels, baseline, rows) if rows is not None else {}
    return {
        m: {
            "value": float(here[m][0] - there[m][0]),
            "ci": _interval(boot_here[m] - boot_there[m], confidence) if rows is not None else None,
        }
        for m in METRICS
    }
