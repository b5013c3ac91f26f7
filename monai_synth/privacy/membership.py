"""Membership inference by a loss threshold: can an attacker tell training images from unseen ones?

A diffusion model is trained to denoise its training images; if it has fit them individually, its denoising
loss on them is lower than on images of the same population it never saw. The attack (Yeom et al. 2018;
for diffusion models Matsumoto et al. 2023, Carlini et al. 2023) scores every image by its loss at a few fixed
timesteps with fixed noise and calls the low-loss images members. Its quality over all thresholds:

- ``auc``: area under the ROC curve (0.5 = chance, 1 = every member below every non-member);
- ``tpr_at_fpr``: the share of members caught at a threshold that wrongly accuses at most 1 % of non-members
  (the low-error regime Carlini et al. 2022 argue is the one that matters for privacy).

The ROC curve here follows ``sklearn.metrics.roc_curve`` (one point per distinct score, from ``(0, 0)``) without
dropping collinear points; the AUC is its trapezoidal area (equal to the Mann-Whitney statistic, ties half).
``tpr_at_fpr`` is the largest TPR among the points with ``FPR <= target`` (no interpolation). The AUC interval
is a two-sample percentile bootstrap over members and non-members; the verdict flags when its lower end lies
above 0.5.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from monai_synth.metrics.bootstrap import bootstrap_ci

__all__ = ["roc_curve", "roc_auc", "tpr_at_fpr", "loss_threshold_attack"]


def roc_curve(member_scores: np.ndarray, nonmember_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates at every distinct score (higher score = "member"), from ``(0, 0)``.

    Args:
        member_scores: ``(N,)`` scores of the true members.
        nonmember_scores: ``(M,)`` scores of the true non-members.

    Returns:
        ``(fpr, tpr)``, each ``(K + 1,)`` for ``K`` distinct scores, increasing.

    Raises:
        ValueError: when either set is empty or a score is not finite.
    """
    pos, neg = np.asarray(member_scores, np.float64).ravel(), np.asarray(nonmember_scores, np.float64).ravel()
    if pos.size == 0 or neg.size == 0:
        raise ValueError("the attack needs both member and non-member scores")
    scores = np.concatenate([pos, neg])
    if not np.isfinite(scores).all():
        raise ValueError("attack scores must be finite")
    is_member = np.concatenate([np.ones(pos.size), np.zeros(neg.size)])
    order = np.argsort(-scores, kind="mergesort")
    scores, is_member = scores[order], is_member[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]  # one ROC point per distinct score
    tps = np.cumsum(is_member)[last_of_tie]
    fps = (last_of_tie + 1) - tps
    return np.r_[0.0, fps / neg.size], np.r_[0.0, tps / pos.size]


def roc_auc(member_scores: np.ndarray, nonmember_scores: np.ndarray) -> float:
    """Area under the ROC curve (trapezoidal; ties count half)."""
    fpr, tpr = roc_curve(member_scores, nonmember_scores)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def tpr_at_fpr(member_scores: np.ndarray, nonmember_scores: np.ndarray, target: float = 0.01) -> float:
    """The largest true positive rate among the ROC points with false positive rate at most ``target``."""
    fpr, tpr = roc_curve(member_scores, nonmember_scores)
    return float(tpr[fpr <= target + 1e-12].max())


def loss_threshold_attack(
    member_losses: np.ndarray,
    nonmember_losses: np.ndarray,
    target_fpr: float = 0.01,
    num_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """The loss-threshold attack on per-image losses.

    Args:
        member_losses: ``(N,)`` or ``(N, T)`` losses of training images (columns: timesteps, averaged).
        nonmember_losses: ``(M,)`` or ``(M, T)`` losses of hold-out images.
        target_fpr: false positive rate of the reported TPR.
        num_bootstrap: bootstrap replicates of the AUC interval (0: none; the verdict uses the point estimate).
        confidence: interval coverage.
        seed: bootstrap seed.

    Returns:
        ``auc``, ``auc_ci``, ``tpr_at_fpr``, ``target_fpr``, ``n_members``, ``n_nonmembers``, the mean losses,
        ``per_timestep`` (``auc`` and ``tpr_at_fpr`` of each column, when losses have columns) and ``flagged``.
    """
    members, nonmembers = np.asarray(member_losses, np.float64), np.asarray(nonmember_losses, np.float64)
    if members.ndim == 1:
        members, nonmembers = members[:, None], nonmembers[:, None]
    pos, neg = -members.mean(axis=1), -nonmembers.mean(axis=1)  # low loss = member
    auc = roc_auc(pos, neg)
    interval = None
    if num_bootstrap > 0:
        interval = list(bootstrap_ci(lambda a, b: roc_auc(pos[a], neg[b]), pos.size, neg.size, num_bootstrap,
                                     confidence, seed))
    per_timestep = [
        {"auc": roc_auc(-members[:, j], -nonmembers[:, j]), "tpr_at_fpr": tpr_at_fpr(-members[:, j], -nonmembers[:, j],
                                                                                     target_fpr)}
        for j in range(members.shape[1])
    ] if members.shape[1] > 1 else []
    return {
        "auc": auc,
        "auc_ci": interval,
        "tpr_at_fpr": tpr_at_fpr(pos, neg, target_fpr),
        "target_fpr": float(target_fpr),
        "n_members": int(pos.size),
        "n_nonmembers": int(neg.size),
        "member_loss_mean": float(members.mean()),
        "nonmember_loss_mean": float(nonmembers.mean()),
        "per_timestep": per_timestep,
        "flagged": bool((interval[0] if interval else auc) > 0.5),
    }
