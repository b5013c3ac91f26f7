"""Fidelity metrics of a generated feature set against a real one, as plain dicts.

One call gives what evaluation and training handlers report: FID, KID (mean, std), improved precision
and recall; :func:`fidelity_intervals` adds bootstrap intervals and :func:`per_class_metrics` the same
metrics per class label.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from monai_synth.metrics.bootstrap import fid_ci, mean_ci
from monai_synth.metrics.frechet import fid_from_features
from monai_synth.metrics.kid import kernel_inception_distance
from monai_synth.metrics.precision_recall import improved_precision_recall

__all__ = ["fidelity_metrics", "fidelity_intervals", "per_class_metrics"]


def fidelity_metrics(
    real: np.ndarray,
    fake: np.ndarray,
    kid_subset_size: int = 1000,
    kid_subsets: int = 100,
    k: int = 3,
    kid_seed: int = 2020,
) -> dict[str, float | int]:
    """FID, KID and improved precision/recall of ``fake`` features against ``real`` features.

    Args:
        real: ``(N1, D)`` features.
        fake: ``(N2, D)`` features.
        kid_subset_size: KID subset size (reduced to the smaller set when needed).
        kid_subsets: number of KID subsets.
        k: neighbourhood size of precision/recall.
        kid_seed: seed of the KID subsets (torch-fidelity's default 2020).

    Returns:
        ``fid``, ``kid_mean``, ``kid_std``, ``kid_subset_size`` (used), ``precision``, ``recall``.
    """
    kid_mean, kid_std, used = kernel_inception_distance(real, fake, kid_subset_size, kid_subsets, seed=kid_seed)
    precision, recall = improved_precision_recall(real, fake, k)
    return {
        "fid": fid_from_features(real, fake),
        "kid_mean": kid_mean,
        "kid_std": kid_std,
        "kid_subset_size": used,
        "precision": precision,
        "recall": recall,
    }


def fidelity_intervals(
    real: np.ndarray,
    fake: np.ndarray,
    num_resamples: int = 50,
    confidence: float = 0.95,
    seed: int = 0,
    k: int = 3,
) -> dict[str, list[float]]:
    """Bootstrap intervals: FID (both sets resampled), precision and recall (probe set resampled).

    Returns:
        ``fid_ci``, ``precision_ci``, ``recall_ci`` as ``[low, high]`` lists.
    """
    _, _, fake_in_real, real_in_fake = improved_precision_recall(real, fake, k, return_members=True)
    return {
        "fid_ci": list(fid_ci(real, fake, num_resamples, confidence, seed)),
        "precision_ci": list(mean_ci(fake_in_real, 1000, confidence, seed)),
        "recall_ci": list(mean_ci(real_in_fake, 1000, confidence, seed)),
    }


def per_class_metrics(
    real: np.ndarray,
    real_labels: Sequence[int],
    fake: np.ndarray,
    fake_labels: Sequence[int],
    k: int = 3,
) -> dict[str, dict[str, float | int | None]]:
    """FID, precision and recall per class label present in both sets.

    A class needs at least 2 images per set for FID and more than ``k`` for precision/recall; otherwise
    the value is ``None``. Per-class FID on a few hundred images is biased upwards (FID's bias grows as
    the sample shrinks): compare classes at equal sample sizes.

    Returns:
        ``{str(label): {"n_real", "n_fake", "fid", "precision", "recall"}}``, sorted by label.
    """
    real_labels, fake_labels = np.asarray(real_labels), np.asarray(fake_labels)
    out: dict[str, dict[str, float | int | None]] = {}
    for label in sorted(set(real_labels.tolist()) & set(fake_labels.tolist())):
        r, f = real[real_labels == label], fake[fake_labels == label]
        entry: dict[str, float | int | None] = {"n_real": len(r), "n_fake": len(f), "fid": None}
        entry.update(precision=None, recall=None)
        if min(len(r), len(f)) >= 2:
            entry["fid"] = fid_from_features(r, f)
        if min(len(r), len(f)) > k:
            entry["precision"], entry["recall"] = improved_precision_recall(r, f, k)
        out[str(label)] = entry
    return out
