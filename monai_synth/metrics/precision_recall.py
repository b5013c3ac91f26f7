"""Improved precision and recall (Kynkaanniemi et al., "Improved Precision and Recall Metric for
Assessing Generative Models", NeurIPS 2019).

Each set is a manifold: the union of balls centred on its feature vectors, each ball's radius being the
Euclidean distance to its k-th nearest neighbour in the same set (the point itself excluded; k = 3).

- precision = fraction of generated samples inside the real manifold;
- recall = fraction of real samples inside the generated manifold.

"Inside" means ``||probe - x_j|| <= radius_j`` for at least one manifold point ``x_j``. Distances are
computed in float64, in row blocks (the reference implementation in StyleGAN2-ADA uses the same rule,
with its k-th distances rounded to float16).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["knn_radii", "manifold_membership", "improved_precision_recall"]


def _as_tensor(features: np.ndarray | torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(np.asarray(features), dtype=torch.float64)


def knn_radii(features: np.ndarray | torch.Tensor, k: int = 3, block: int = 1024) -> np.ndarray:
    """Distance of every row to its k-th nearest other row.

    Args:
        features: ``(N, D)`` with ``N > k``.
        k: neighbourhood size.
        block: rows per distance block.

    Returns:
        float64 array ``(N,)``.

    Raises:
        ValueError: when ``N <= k``.
    """
    x = _as_tensor(features)
    if x.shape[0] <= k:
        raise ValueError(f"need more than k={k} samples for k-NN radii, got {x.shape[0]}")
    radii = [torch.cdist(rows, x).kthvalue(k + 1, dim=1).values for rows in x.split(block)]
    return torch.cat(radii).numpy()


def manifold_membership(
    probes: np.ndarray | torch.Tensor, manifold: np.ndarray | torch.Tensor, radii: np.ndarray, block: int = 1024
) -> np.ndarray:
    """Which probes lie inside the union of balls ``B(manifold_j, radii_j)``.

    Args:
        probes: ``(M, D)``.
        manifold: ``(N, D)``.
        radii: ``(N,)`` ball radii (:func:`knn_radii` of ``manifold``).
        block: probe rows per distance block.

    Returns:
        bool array ``(M,)``.
    """
    centres, r = _as_tensor(manifold), torch.as_tensor(np.asarray(radii), dtype=torch.float64)
    inside = [(torch.cdist(rows, centres) <= r[None, :]).any(dim=1) for rows in _as_tensor(probes).split(block)]
    return torch.cat(inside).numpy()


def improved_precision_recall(
    real: np.ndarray, fake: np.ndarray, k: int = 3, return_members: bool = False
) -> tuple[float, float] | tuple[float, float, np.ndarray, np.ndarray]:
    """Improved precision and recall of generated features against real features.

    Args:
        real: ``(N1, D)`` real features.
        fake: ``(N2, D)`` generated features.
        k: neighbourhood size (3 in the paper).
        return_members: also return the per-sample indicators (used for confidence intervals).

    Returns:
        ``(precision, recall)``, or ``(precision, recall, fake_in_real, real_in_fake)`` with the bool
        indicator arrays when ``return_members``.
    """
    fake_in_real = manifold_membership(fake, real, knn_radii(real, k))
    real_in_fake = manifold_membership(real, fake, knn_radii(fake, k))
    precision, recall = float(fake_in_real.mean()), float(real_in_fake.mean())
    if return_members:
        return precision, recall, fake_in_real, real_in_fake
    return precision, recall
