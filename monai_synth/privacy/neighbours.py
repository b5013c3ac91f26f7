"""Nearest neighbours of many images among many others, as batched matrix products on unit vectors.

Every space of the audit reduces an image to one unit vector, so that the dot product of two vectors is their
similarity:

- pixel space (:func:`pixel_vectors`): the image flattened, its mean removed, scaled to unit length; the dot
  product of two such vectors is the Pearson correlation of the two images' pixels;
- a feature space (:func:`unit_rows`): a feature vector (Inception pool3, a self-supervised embedding) scaled to
  unit length; the dot product is the cosine similarity.

For unit vectors the Euclidean distance is a function of the similarity alone, ``d = sqrt(2 - 2 s)``
(:func:`distance_from_similarity`), so one search gives both the nearest similarity (copy threshold) and the
nearest distances (distance to closest record, nearest-neighbour distance ratio).

:func:`nearest_neighbours` multiplies one block of queries at a time by the whole reference matrix and keeps
the ``k`` largest similarities of each row (``torch.topk``): memory stays at ``block x reference`` numbers and
there is no Python loop over pairs.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

__all__ = ["Neighbours", "pixel_vectors", "unit_rows", "nearest_neighbours", "distance_from_similarity"]

#: vectors shorter than this (constant images, all-zero features) stay zero: similarity 0 to everything
_EPS = 1e-12


class Neighbours(NamedTuple):
    """The ``k`` most similar reference rows of each query row, most similar first.

    Attributes:
        similarity: ``(N, k)`` float64 dot products of unit vectors (Pearson r or cosine similarity).
        index: ``(N, k)`` int64 row numbers in the reference set.
    """

    similarity: np.ndarray
    index: np.ndarray

    @property
    def distance(self) -> np.ndarray:
        """``(N, k)`` Euclidean distances of the unit vectors, ``sqrt(2 - 2 s)``."""
        return distance_from_similarity(self.similarity)


def unit_rows(vectors: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit Euclidean length (float32); zero rows stay zero.

    Args:
        vectors: ``(N, D)`` array or tensor.
    """
    x = torch.as_tensor(np.asarray(vectors) if not isinstance(vectors, torch.Tensor) else vectors).float()
    if x.ndim != 2:
        raise ValueError(f"expected vectors (N, D), got shape {tuple(x.shape)}")
    norm = x.norm(dim=1, keepdim=True)
    return torch.where(norm > _EPS, x / norm.clamp_min(_EPS), torch.zeros_like(x))


def pixel_vectors(images: torch.Tensor) -> torch.Tensor:
    """Images ``(N, C, H, W)`` as centred unit vectors: their dot products are Pearson correlations.

    Args:
        images: the images, in the intensity scaling the model was trained in.

    Returns:
        ``(N, C*H*W)`` float32; a constant image gives a zero row (correlation 0 with everything).
    """
    x = torch.as_tensor(images).float().flatten(1)
    return unit_rows(x - x.mean(dim=1, keepdim=True))


def nearest_neighbours(
    queries: torch.Tensor | np.ndarray, reference: torch.Tensor | np.ndarray, k: int = 2, block: int = 1024
) -> Neighbours:
    """The ``k`` most similar reference rows of every query row (dot products of unit vectors).

    Args:
        queries: ``(N, D)`` unit vectors (:func:`pixel_vectors`, :func:`unit_rows`).
        reference: ``(M, D)`` unit vectors.
        k: neighbours per query (at most ``M``).
        block: queries multiplied at once (memory: ``block x M`` floats).

    Returns:
        :class:`Neighbours`, most similar first.

    Raises:
        ValueError: on empty sets, different widths, or ``k`` outside ``1..M``.
    """
    q, r = torch.as_tensor(queries).float(), torch.as_tensor(reference).float()
    if q.ndim != 2 or r.ndim != 2 or q.shape[1] != r.shape[1]:
        raise ValueError(f"queries {tuple(q.shape)} and reference {tuple(r.shape)} must be (N, D) and (M, D)")
    if r.shape[0] == 0:
        raise ValueError("the reference set is empty")
    if not 1 <= k <= r.shape[0]:
        raise ValueError(f"k must be in 1..{r.shape[0]} (the reference size), got {k}")
    sims, idx = [], []
    rt = r.t().contiguous()
    for start in range(0, q.shape[0], max(1, int(block))):
        values, indices = (q[start : start + block] @ rt).topk(k, dim=1)
        sims.append(values)
        idx.append(indices)
    if not sims:
        return Neighbours(np.zeros((0, k)), np.zeros((0, k), dtype=np.int64))
    similarity = torch.cat(sims).double().clamp(-1.0, 1.0).numpy()
    return Neighbours(similarity, torch.cat(idx).numpy().astype(np.int64))


def distance_from_similarity(similarity: np.ndarray) -> np.ndarray:
    """Euclidean distance of unit vectors from their dot product: ``sqrt(max(2 - 2 s, 0))``."""
    return np.sqrt(np.clip(2.0 - 2.0 * np.asarray(similarity, dtype=np.float64), 0.0, None))
