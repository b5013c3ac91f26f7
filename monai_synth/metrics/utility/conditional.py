"""Conditional fidelity: does a class-conditional generator draw the class it was asked for?

A classifier trained on real images labels the synthetic images; the score of a class is the share of the
synthetic images conditioned on it that the classifier assigns to it. The classifier's own recall on the
real held-out images of the class is reported beside it: a synthetic share close to the real recall means the
conditioning works as well as the classifier can tell; a share far below it means the generator draws other
classes (or images the classifier cannot place).

Intervals: percentile bootstrap over the synthetic images (resampled within each conditioned class), the
same resample applied to every training seed's predictions, as in :mod:`.scores`.

:func:`conditional_fidelity` scores given predictions (pure); :func:`classifier_conditional_fidelity` trains
the classifier on real images first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from monai_synth.metrics.utility.classifiers import build_network, predict_probabilities, train_network
from monai_synth.metrics.utility.scores import stratified_resamples

__all__ = ["classifier_conditional_fidelity", "conditional_fidelity"]


def _interval(values: np.ndarray, confidence: float) -> list[float]:
    tail = (1.0 - confidence) / 2.0 * 100.0
    return [float(v) for v in np.percentile(values, [tail, 100.0 - tail])]


def _summary(values: list[float], boot: np.ndarray | None, confidence: float) -> dict:
    return {
        "mean": float(np.mean(values)),
        "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
        "per_seed": [float(v) for v in values],
        "ci": _interval(boot, confidence) if boot is not None else None,
    }


def conditional_fidelity(
    conditioned: np.ndarray,
    predicted: Sequence[np.ndarray],
    class_names: Sequence[str],
    real_labels: np.ndarray | None = None,
    real_predicted: Sequence[np.ndarray] | None = None,
    num_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict:
    """Conditional fidelity of synthetic images, overall and per class, averaged over classifier seeds.

    Args:
        conditioned: ``(n,)`` the class each synthetic image was generated for.
        predicted: per classifier seed, ``(n,)`` the class the classifier assigns to each synthetic image.
        class_names: names of the classes, by index.
        real_labels: ``(m,)`` labels of the real held-out images (optional reference).
        real_predicted: per seed, ``(m,)`` the classifier's predictions on them.
        num_resamples: bootstrap replicates (0: no intervals).
        confidence: interval coverage.
        seed: seed of the resampling.

    Returns:
        ``{"score", "balanced_score", "per_class", "confusion", "n"}``: ``score`` is the share of all synthetic
        images assigned to their conditioned class, ``balanced_score`` its mean over classes; each a dict with
        ``mean`` (over seeds), ``std``, ``per_seed`` and ``ci``. ``per_class[name]`` holds ``n``, ``share`` (same
        form) and, with the real reference, ``real_recall``; ``confusion[i][j]`` counts images conditioned on
        class ``i`` that the first seed's classifier labels ``j``.
    """
    conditioned = np.asarray(conditioned, dtype=np.int64)
    predicted = [np.asarray(p, dtype=np.int64) for p in predicted]
    if not predicted or any(p.shape != conditioned.shape for p in predicted):
        raise ValueError(f"need one prediction per synthetic image ({conditioned.size}) for each seed")
    if conditioned.size == 0:
        raise ValueError("no synthetic images to score")
    classes = np.unique(conditioned)
    rows = stratified_resamples(conditioned, num_resamples, seed) if num_resamples else None
    drawn = conditioned[rows] if rows is not None else None

    def shares(p: np.ndarray) -> tuple[float, dict[int, float], np.ndarray | None, dict[int, np.ndarray]]:
        hit = p == conditioned
        per = {int(c): float(hit[conditioned == c].mean()) for c in classes}
        if rows is None:
            return float(hit.mean()), per, None, {}
        boot_per = {int(c): (hit[rows] & (drawn == c)).sum(1) / (drawn == c).sum(1) for c in classes}
        return float(hit.mean()), per, hit[rows].mean(1), boot_per

    results = [shares(p) for p in predicted]
    boot_all = np.mean([r[2] for r in results], axis=0) if rows is not None else None
    boot_cls = {int(c): np.mean([r[3][int(c)] for r in results], axis=0) for c in classes} if rows is not None else {}
    boot_bal = np.mean([boot_cls[int(c)] for c in classes], axis=0) if rows is not None else None
    per_class = {}
    for c in classes:
        name = class_names[c] if c < len(class_names) else str(int(c))
        entry = {"n": int((conditioned == c).sum()),
                 "share": _summary([r[1][int(c)] for r in results], boot_cls.get(int(c)), confidence)}
        if real_labels is not None and real_predicted:
            real_labels = np.asarray(real_labels)
            sel = real_labels == c
            if sel.any():
                entry["real_recall"] = float(np.mean([(np.asarray(p)[sel] == c).mean() for p in real_predicted]))
        per_class[name] = entry
    n_cls = max(len(class_names), int(conditioned.max()) + 1, int(max(p.max() for p in predicted)) + 1)
    confusion = np.zeros((n_cls, n_cls), dtype=np.int64)
    np.add.at(confusion, (conditioned, predicted[0]), 1)
    return {
        "score": _summary([r[0] for r in results], boot_all, confidence),
        "balanced_score": _summary([float(np.mean(list(r[1].values()))) for r in results], boot_bal, confidence),
        "per_class": per_class,
        "confusion": confusion.tolist(),
        "n": int(conditioned.size),
    }


def classifier_conditional_fidelity(
    real_images: torch.Tensor,
    real_labels: torch.Tensor,
    synthetic_images: torch.Tensor,
    synthetic_labels: torch.Tensor,
    class_names: Sequence[str],
    holdout_images: torch.Tensor | None = None,
    holdout_labels: torch.Tensor | None = None,
    network: str = "monai_classifier",
    steps: int = 500,
    batch_size: int = 64,
    lr: float = 1e-3,
    width: float = 0.125,
    seeds: Sequence[int] = (0,),
    device: str | torch.device = "cpu",
    num_resamples: int = 1000,
    confidence: float = 0.95,
) -> dict:
    """Train a classifier on real images (once per seed), label the synthetic ones, score them.

    Args:
        real_images / real_labels: real training images ``(N, C, H, W)`` in [-1, 1] and their classes.
        synthetic_images / synthetic_labels: synthetic images and the class each was generated for.
        class_names: names of the classes.
        holdout_images / holdout_labels: real held-out images, for the classifier's own recall per class.
        network: ``"vgg11"`` or ``"monai_classifier"`` (:mod:`.classifiers`).
        steps / batch_size / lr / width: training settings.
        seeds: classifier training seeds.
        device: where to train.
        num_resamples / confidence: bootstrap settings.

    Returns:
        :func:`conditional_fidelity`'s dict, plus ``classifier`` (the training settings).
    """
    predicted, real_predicted = [], []
    for seed in seeds:
        torch.manual_seed(int(seed))
        net = build_network(network, real_images.shape[1], real_images.shape[-1], len(class_names), width)
        net = train_network(net.to(torch.device(device)), real_images, real_labels, steps, batch_size, lr, int(seed))
        predicted.append(predict_probabilities(net, synthetic_images).argmax(1))
        if holdout_images is not None:
            real_predicted.append(predict_probabilities(net, holdout_images).argmax(1))
    result = conditional_fidelity(
        np.asarray(synthetic_labels), predicted, class_names,
        None if holdout_labels is None else np.asarray(holdout_labels), real_predicted or None,
        num_resamples, confidence,
    )  # fmt: skip
    result["classifier"] = {"network": network, "steps": steps, "batch_size": batch_size, "lr": lr,
                            "width": width, "seeds": [int(s) for s in seeds]}
    return result
