"""Segmentation scores of a real test set: Dice and HD95 per structure and image, and their summary over
training seeds with a bootstrap interval over test images.

- Dice per image and structure: MONAI ``DiceMetric`` (background excluded). An image whose true mask lacks the
  structure has no Dice for it (``ignore_empty``): it is left out of that structure's mean.
- HD95 per image and structure: MONAI ``HausdorffDistanceMetric(percentile=95)``, in pixels (the 95th
  percentile of the boundary distances, the larger of the two directions). Left out where the true mask lacks
  the structure, like Dice. Where the true mask holds it but the network predicts none of it the distance is
  undefined (MONAI gives NaN); it is set to the image diagonal, the largest distance an image allows, and
  counted (``empty_predictions``), so that a network that misses a structure is not rewarded by dropping the
  image.

Seeds are combined as in :mod:`.scores`: the figure is the mean over training seeds of each seed's mean over
test images; ``std`` (``ddof=1``), ``min`` and ``max`` are the spread over seeds; the interval resamples the
test images (with replacement, the same resample for every seed) and measures how much the seed-averaged
figure depends on which test images were drawn. Differences between two training settings are paired over
the same test images.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from monai.metrics import DiceMetric, HausdorffDistanceMetric

__all__ = ["SEGMENTATION_METRICS", "paired_seed_difference", "seed_summary", "segmentation_per_image",
           "summarise_segmentation"]

SEGMENTATION_METRICS: tuple[str, ...] = ("dice", "hd95")
"""Scores per structure, in report order (``hd95`` in pixels, lower is better)."""


def _onehot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    return F.one_hot(labels.long()[:, 0], num_classes).permute(0, 3, 1, 2).float()


def segmentation_per_image(pred: torch.Tensor, target: torch.Tensor, num_structures: int) -> dict[str, np.ndarray]:
    """Dice and HD95 of every image and structure.

    Args:
        pred: predicted label maps ``(N, 1, H, W)`` (0 background, 1..K structures).
        target: true label maps of the same shape.
        num_structures: K, the number of foreground classes.

    Returns:
        ``{"dice": (N, K), "hd95": (N, K), "empty_prediction": (N, K) bool}``; NaN where the true mask lacks
        the structure.
    """
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    k = int(num_structures)
    p, t = _onehot(pred, k + 1), _onehot(target, k + 1)
    dice = DiceMetric(include_background=False, reduction="none", ignore_empty=True)(y_pred=p, y=t)
    with warnings.catch_warnings():  # empty masks: MONAI warns per image, the cases are handled below
        warnings.simplefilter("ignore")
        hd = HausdorffDistanceMetric(include_background=False, percentile=95, reduction="none")(y_pred=p, y=t)
    dice, hd = np.asarray(dice, np.float64).reshape(-1, k), np.asarray(hd, np.float64).reshape(-1, k)
    present = t[:, 1:].flatten(2).amax(2).numpy() > 0
    predicted = p[:, 1:].flatten(2).amax(2).numpy() > 0
    empty = present & ~predicted
    diagonal = math.hypot(pred.shape[-2], pred.shape[-1])
    hd = np.where(empty, diagonal, hd)
    dice, hd = np.where(present, dice, np.nan), np.where(present, hd, np.nan)
    return {"dice": dice, "hd95": hd, "empty_prediction": empty}


def _as_matrix(per_seed: Sequence[Sequence[float | None]]) -> np.ndarray:
    """``(S, N)`` float64 of per-seed per-image values (None -> NaN)."""
    return np.asarray([[np.nan if v is None else float(v) for v in row] for row in per_seed], dtype=np.float64)


def _interval(values: np.ndarray, num_resamples: int, confidence: float, seed: int) -> list[float] | None:
    """Percentile bootstrap interval of the mean of ``values`` (NaN-free) over resampled images."""
    if num_resamples <= 0 or values.size == 0:
        return None
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, (num_resamples, values.size))].mean(axis=1)
    tail = (1.0 - confidence) / 2.0 * 100.0
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    return [float(lo), float(hi)]


def seed_summary(
    per_seed: Sequence[Sequence[float | None]], num_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> dict[str, Any]:
    """Mean over seeds, spread over seeds and bootstrap interval over images of one score of one structure.

    Args:
        per_seed: ``(S, N)`` values of each seed's network on each test image (None/NaN: no value; the same
            images lack a value for every seed, since that depends on the true mask only).
        num_resamples / confidence / seed: bootstrap settings (0 resamples: no interval).

    Returns:
        ``{"mean", "std", "min", "max", "per_seed", "ci", "n_images"}`` (None where no image has a value).
    """
    values = _as_matrix(per_seed)
    scored = ~np.isnan(values).any(axis=0)  # images with a value for every seed
    if not scored.any():
        return {"mean": None, "std": None, "min": None, "max": None, "per_seed": [None] * len(values), "ci": None,
                "n_images": 0}  # fmt: skip
    seed_means = values[:, scored].mean(axis=1)
    return {
        "mean": float(seed_means.mean()),
        "std": float(np.std(seed_means, ddof=1)) if len(seed_means) > 1 else 0.0,
        "min": float(seed_means.min()),
        "max": float(seed_means.max()),
        "per_seed": [float(v) for v in seed_means],
        "ci": _interval(values[:, scored].mean(axis=0), num_resamples, confidence, seed),
        "n_images": int(scored.sum()),
    }


def paired_seed_difference(
    a: Sequence[Sequence[float | None]],
    b: Sequence[Sequence[float | None]],
    num_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """``a - b`` of the seed-averaged score, with a paired bootstrap interval over the same test images.

    Returns:
        ``{"value", "ci", "n_images"}`` (value None where no image has a value on both sides).
    """
    va, vb = _as_matrix(a), _as_matrix(b)
    scored = ~(np.isnan(va).any(axis=0) | np.isnan(vb).any(axis=0))
    if not scored.any():
        return {"value": None, "ci": None, "n_images": 0}
    diff = va[:, scored].mean(axis=0) - vb[:, scored].mean(axis=0)
    return {"value": float(diff.mean()), "ci": _interval(diff, num_resamples, confidence, seed),
            "n_images": int(scored.sum())}  # fmt: skip


def summarise_segmentation(
    settings: Sequence[str],
    results: Mapping[str, Sequence[Mapping[str, Any]]],
    structures: Sequence[str],
    comparisons: Sequence[tuple[str, str]] = (),
    num_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Figures of every training setting and the paired differences asked for.

    Args:
        settings: setting names, in report order.
        results: ``{setting: [cell result of each seed]}``; a cell result holds ``"dice"`` and ``"hd95"`` as
            ``(N, K)`` nested lists (None: no value) and ``"empty_prediction"`` counts per structure.
        structures: names of the K structures.
        comparisons: ``(a, b)`` pairs of settings; each gives ``a - b`` per structure and score.
        num_resamples / confidence / seed: bootstrap settings.

    Returns:
        ``{"settings": {setting: {structure: {score: summary}}}, "differences": {"a - b": {...}}}``.
    """
    boot = {"num_resamples": num_resamples, "confidence": confidence, "seed": seed}

    def column(setting: str, metric: str, j: int) -> list[list]:
        return [[row[j] for row in cell[metric]] for cell in results[setting]]

    out: dict[str, Any] = {"settings": {}, "differences": {}}
    for s in settings:
        cells = results[s]
        entry = {}
        for j, name in enumerate(structures):
            entry[name] = {m: seed_summary(column(s, m, j), **boot) for m in SEGMENTATION_METRICS}
            entry[name]["empty_predictions"] = [int(c["empty_prediction"][j]) for c in cells]
        out["settings"][s] = entry
    for a, b in comparisons:
        out["differences"][f"{a} - {b}"] = {
            name: {m: paired_seed_difference(column(a, m, j), column(b, m, j), **boot) for m in SEGMENTATION_METRICS}
            for j, name in enumerate(structures)
        }
    return out
