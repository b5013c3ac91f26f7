"""Frechet distance between Gaussians fitted to features (FID when the features are Inception pool3).

Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium"
(NeurIPS 2017):

    FID = ||mu_1 - mu_2||^2 + Tr(Sigma_1) + Tr(Sigma_2) - 2 Tr((Sigma_1 Sigma_2)^{1/2})

with ``mu`` the feature mean and ``Sigma`` the unbiased covariance (``np.cov``, divisor ``N - 1``), all in
float64. ``Tr((Sigma_1 Sigma_2)^{1/2})`` is the sum of the square roots of the eigenvalues of
``Sigma_1 Sigma_2``, which are those of the symmetric PSD matrix ``Sigma_1^{1/2} Sigma_2 Sigma_1^{1/2}``:

- ``method="eigh"`` (default) takes them with two symmetric eigendecompositions (exact for singular
  covariances, about 6x faster than ``sqrtm`` at 2048-d);
- ``method="sqrtm"`` is the reference tools' ``scipy.linalg.sqrtm(Sigma_1 @ Sigma_2)`` (pytorch-fid,
  clean-fid), real part taken when the imaginary part is negligible.

Both use the standard fallback: when the result is not finite, ``eps * I`` is added to both covariances
and the square root retried.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

__all__ = ["feature_statistics", "frechet_distance", "trace_sqrt_product", "fid_from_features"]


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of features, in float64.

    Args:
        features: array ``(N, D)`` with ``N >= 2``.

    Returns:
        ``(mu (D,), sigma (D, D))``.

    Raises:
        ValueError: when there are fewer than 2 rows or the array is not 2-D.
    """
    feats = np.asarray(features, dtype=np.float64)
    if feats.ndim != 2 or feats.shape[0] < 2:
        raise ValueError(f"need features of shape (N >= 2, D), got {feats.shape}")
    return feats.mean(axis=0), np.cov(feats, rowvar=False)


def _trace_sqrt_eigh(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """``Tr((sigma1 sigma2)^{1/2})`` from the eigenvalues of ``sigma1^{1/2} sigma2 sigma1^{1/2}``.

    ``sigma1 = V W V^T``; the eigenvalues sought are those of ``W^{1/2} V^T sigma2 V W^{1/2}``, restricted to
    the eigenvectors whose eigenvalue exceeds the rank tolerance ``max(W) * D * eps`` (below it they are
    rounding noise, and their square roots would add up to ~1e-3 on singular covariances, e.g. fewer
    images than dimensions).
    """
    w, v = np.linalg.eigh(sigma1)
    keep = w > w.max() * w.size * np.finfo(np.float64).eps
    half = v[:, keep] * np.sqrt(w[keep])
    middle = half.T @ sigma2 @ half
    eig = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    return float(np.sqrt(np.clip(eig, 0.0, None)).sum())


def _trace_sqrt_scipy(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """``Tr(sqrtm(sigma1 @ sigma2))`` as pytorch-fid computes it (``nan`` when sqrtm fails)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        return float("nan")
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"sqrtm has a large imaginary component {np.max(np.abs(covmean.imag)):.3g}")
        covmean = covmean.real
    return float(np.trace(covmean))


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray, method: str = "eigh", eps: float = 1e-6) -> float:
    """``Tr((sigma1 sigma2)^{1/2})`` for two covariance matrices, with the ``eps * I`` fallback.

    Args:
        sigma1: covariance ``(D, D)``.
        sigma2: covariance ``(D, D)``.
        method: ``"eigh"`` (symmetric eigendecompositions) or ``"sqrtm"`` (``scipy.linalg.sqrtm``).
        eps: offset added to both diagonals when the first attempt is not finite.

    Returns:
        The trace, a float.

    Raises:
        ValueError: on an unknown method.
    """
    if method not in ("eigh", "sqrtm"):
        raise ValueError(f"method must be 'eigh' or 'sqrtm', got {method!r}")
    compute = _trace_sqrt_eigh if method == "eigh" else _trace_sqrt_scipy
    try:
        value = compute(sigma1, sigma2)
    except np.linalg.LinAlgError:
        value = float("nan")
    if not np.isfinite(value):
        warnings.warn(f"Frechet distance: non-finite square root; adding {eps} to the covariance diagonals")
        offset = np.eye(sigma1.shape[0]) * eps
        value = compute(sigma1 + offset, sigma2 + offset)
    return value


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6, method: str = "eigh"
) -> float:
    """Frechet distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)``, in float64.

    Args:
        mu1: mean ``(D,)`` of the first set.
        sigma1: covariance ``(D, D)`` of the first set.
        mu2: mean of the second set.
        sigma2: covariance of the second set.
        eps: diagonal offset of the fallback (see :func:`trace_sqrt_product`).
        method: ``"eigh"`` or ``"sqrtm"``.

    Returns:
        The distance (>= 0 up to rounding).

    Raises:
        ValueError: when the shapes disagree.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shape mismatch: mu {mu1.shape} vs {mu2.shape}, sigma {sigma1.shape} vs {sigma2.shape}")
    diff = mu1 - mu2
    covmean_trace = trace_sqrt_product(sigma1, sigma2, method=method, eps=eps)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * covmean_trace)


def fid_from_features(features1: np.ndarray, features2: np.ndarray, method: str = "eigh") -> float:
    """FID between two feature sets (statistics in float64, then :func:`frechet_distance`).

    Args:
        features1: ``(N1, D)``.
        features2: ``(N2, D)``.
        method: ``"eigh"`` or ``"sqrtm"``.

    Returns:
        The distance.
    """
    mu1, sigma1 = feature_statistics(features1)
    mu2, sigma2 = feature_statistics(features2)
    return frechet_distance(mu1, sigma1, mu2, sigma2, method=method)
