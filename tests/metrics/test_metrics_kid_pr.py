"""KID and improved precision/recall against brute-force reference implementations written out here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from monai_synth.metrics.kid import kernel_inception_distance
from monai_synth.metrics.precision_recall import improved_precision_recall, knn_radii


def brute_kid(real, fake, m, subsets, seed):
    """Unbiased MMD^2 with k(x, y) = (x.y/d + 1)^3 by explicit loops, subsets drawn as torch-fidelity does."""
    rng = np.random.RandomState(seed)
    d = real.shape[1]

    def k(a, b):
        return (sum(float(a[t]) * float(b[t]) for t in range(d)) / d + 1.0) ** 3

    values = []
    for _ in range(subsets):
        y = fake[rng.choice(len(fake), m, replace=False)]  # torch-fidelity input1 (generated) first
        x = real[rng.choice(len(real), m, replace=False)]
        xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
        values.append(xx + yy - 2 * xy)
    return float(np.mean(values)), float(np.std(values))


def brute_precision_recall(real, fake, k):
    """k-NN balls by sorting explicit distances; membership by looping over every ball."""

    def dist(a, b):
        return math.sqrt(sum((float(p) - float(q)) ** 2 for p, q in zip(a, b)))

    def radii(points):
        return [sorted(dist(p, q) for j, q in enumerate(points) if j != i)[k - 1] for i, p in enumerate(points)]

    def share(probes, manifold):
        r = radii(manifold)
        return sum(any(dist(p, c) <= r[j] for j, c in enumerate(manifold)) for p in probes) / len(probes)

    return share(fake, real), share(real, fake)


def test_kid_matches_loops() -> None:
    rng = np.random.default_rng(0)
    real = rng.standard_normal((30, 6)).astype(np.float32)
    fake = (rng.standard_normal((25, 6)) * 1.3 + 0.4).astype(np.float32)
    mean, std, used = kernel_inception_distance(real, fake, subset_size=12, num_subsets=4, seed=7)
    ref_mean, ref_std = brute_kid(real, fake, 12, 4, 7)
    assert used == 12
    assert mean == pytest.approx(ref_mean, rel=1e-10, abs=1e-12)
    assert std == pytest.approx(ref_std, rel=1e-8, abs=1e-12)


def test_kid_reduces_subset_size_and_is_near_zero_for_same_distribution() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((200, 16)), rng.standard_normal((150, 16))
    mean, std, used = kernel_inception_distance(a, b, subset_size=1000, num_subsets=20)
    assert used == 150
    assert abs(mean) < 3 * std + 1e-3
    far, _, _ = kernel_inception_distance(a, b + 2.0, subset_size=100, num_subsets=5)
    assert far > 10 * abs(mean)


def test_kid_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        kernel_inception_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError):
        kernel_inception_distance(np.zeros((1, 3)), np.zeros((5, 3)))


def test_precision_recall_match_brute_force() -> None:
    rng = np.random.default_rng(2)
    real = rng.standard_normal((40, 5))
    fake = rng.standard_normal((35, 5)) * 0.6 + 0.5  # narrower and shifted: precision > recall
    precision, recall = improved_precision_recall(real, fake, k=3)
    ref_p, ref_r = brute_precision_recall(real, fake, 3)
    assert precision == ref_p and recall == ref_r
    assert 0.0 < recall < precision <= 1.0


def test_precision_recall_of_identical_sets_is_one() -> None:
    x = np.random.default_rng(3).standard_normal((20, 4))
    assert improved_precision_recall(x, x.copy()) == (1.0, 1.0)


def test_knn_radii_excludes_the_point_itself() -> None:
    x = np.array([[0.0], [1.0], [3.0], [7.0]])
    assert knn_radii(x, k=1).tolist() == [1.0, 1.0, 2.0, 4.0]
    with pytest.raises(ValueError, match="more than k"):
        knn_radii(x, k=4)
