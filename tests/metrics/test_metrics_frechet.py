"""Frechet distance against an independent float64 scipy reference, and its edge cases."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from monai_synth.metrics import frechet
from monai_synth.metrics.bootstrap import fid_gram
from monai_synth.metrics.frechet import feature_statistics, fid_from_features, frechet_distance, trace_sqrt_product


def reference_fid(x: np.ndarray, y: np.ndarray) -> float:
    """Written out from the definition, as pytorch-fid does it: np.cov + scipy.linalg.sqrtm in float64."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1.dot(s2)).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def _features(n: int, d: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((d, d)) / np.sqrt(d)  # correlated, like network features
    return ((rng.standard_normal((n, d)) * scale) @ mixing + shift).astype(np.float32)


@pytest.mark.parametrize("method", ["eigh", "sqrtm"])
def test_agrees_with_scipy_reference(method: str) -> None:
    x, y = _features(400, 96, 0), _features(300, 96, 1, shift=0.3, scale=1.2)
    expected = reference_fid(x, y)
    assert fid_from_features(x, y, method=method) == pytest.approx(expected, rel=1e-6)


@pytest.mark.slow
def test_agrees_on_real_inception_shaped_features() -> None:
    # 2048-d, more samples than dimensions (the regime of published FIDs), non-negative like pool3.
    rng = np.random.default_rng(3)
    x = np.abs(rng.standard_normal((2100, 2048)) @ (rng.standard_normal((2048, 2048)) * 0.02)).astype(np.float32)
    y = (x[:1800] * 1.05 + 0.01).astype(np.float32)
    assert fid_from_features(x, y) == pytest.approx(reference_fid(x, y), rel=1e-6)


def test_self_distance_is_zero() -> None:
    x = _features(200, 64, 2)
    assert abs(fid_from_features(x, x)) < 1e-9
    few = _features(20, 256, 3)  # fewer images than dimensions: singular covariance
    assert abs(fid_from_features(few, few)) < 1e-9 * np.trace(np.cov(few, rowvar=False))
    mu, sigma = feature_statistics(x)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-9


def test_pure_function_of_statistics_in_float64() -> None:
    mu1, mu2 = np.zeros(2), np.array([3.0, 4.0])
    sigma = np.eye(2)
    assert frechet_distance(mu1, sigma, mu2, sigma) == pytest.approx(25.0, abs=1e-12)
    # 1-D Gaussians: (m1 - m2)^2 + (s1 - s2)^2
    assert frechet_distance([1.0], [[4.0]], [0.0], [[9.0]]) == pytest.approx(1.0 + 1.0, abs=1e-12)


def test_gram_identity_matches_covariance_form() -> None:
    x, y = _features(50, 128, 4), _features(40, 128, 5, shift=0.2)  # fewer samples than dimensions
    assert fid_gram(x, y) == pytest.approx(fid_from_features(x, y), rel=1e-8)
    x, y = _features(300, 32, 6), _features(200, 32, 7, shift=0.2)
    assert fid_gram(x, y) == pytest.approx(fid_from_features(x, y), rel=1e-10)


def test_eps_fallback_when_first_root_is_not_finite(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = frechet._trace_sqrt_scipy

    def flaky(s1, s2):
        calls.append(np.diag(s1)[0])
        return float("nan") if len(calls) == 1 else original(s1, s2)

    monkeypatch.setattr(frechet, "_trace_sqrt_scipy", flaky)
    s = np.diag([1.0, 0.0])
    with pytest.warns(UserWarning, match="adding 1e-06"):
        value = trace_sqrt_product(s, s, method="sqrtm")
    assert calls[1] == pytest.approx(1.0 + 1e-6)
    assert value == pytest.approx(1.0 + 2e-6, rel=1e-6)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="shape mismatch"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="N >= 2"):
        feature_statistics(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="method"):
        trace_sqrt_product(np.eye(2), np.eye(2), method="svd")
