"""The audit's pure measures against independent references: brute force, NumPy, SciPy and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_synth.privacy import (
    calibrated_threshold,
    compare_to_holdout,
    copy_rate,
    distance_from_similarity,
    distance_ratio,
    loss_threshold_attack,
    nearest_neighbours,
    pixel_vectors,
    roc_auc,
    roc_curve,
    tpr_at_fpr,
    unit_rows,
)


def test_pixel_vectors_give_pearson_correlation() -> None:
    images = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    v = pixel_vectors(images)
    expected = np.corrcoef(images.flatten(1).numpy())
    assert np.allclose((v @ v.t()).numpy(), expected, atol=1e-5)
    constant = pixel_vectors(torch.zeros(1, 1, 4, 4))
    assert torch.count_nonzero(constant) == 0  # a constant image: correlation 0 with everything, no NaN


@pytest.mark.parametrize("block", [1, 3, 1000])
def test_nearest_neighbours_match_brute_force_in_any_block_size(block: int) -> None:
    rng = np.random.default_rng(1)
    q, r = unit_rows(rng.normal(size=(17, 6))), unit_rows(rng.normal(size=(11, 6)))
    found = nearest_neighbours(q, r, k=3, block=block)
    sims = q.numpy().astype(np.float64) @ r.numpy().T.astype(np.float64)
    order = np.argsort(-sims, axis=1)[:, :3]
    assert np.array_equal(found.index, order)
    assert np.allclose(found.similarity, np.take_along_axis(sims, order, axis=1), atol=1e-6)
    euclid = np.linalg.norm(q.numpy()[:, None, :] - r.numpy()[None, :, :], axis=2)
    assert np.allclose(found.distance, np.take_along_axis(euclid, order, axis=1), atol=1e-4)


def test_nearest_neighbours_refuse_bad_shapes() -> None:
    with pytest.raises(ValueError, match="k must be"):
        nearest_neighbours(torch.ones(2, 3), torch.ones(1, 3), k=2)
    with pytest.raises(ValueError, match="must be"):
        nearest_neighbours(torch.ones(2, 3), torch.ones(4, 2), k=1)


def test_distance_helpers() -> None:
    assert np.allclose(distance_from_similarity([1.0, 0.0, -1.0]), [0.0, np.sqrt(2.0), 2.0])
    assert np.allclose(distance_ratio([0.0, 1.0, 0.0], [0.0, 2.0, 1.0]), [0.0, 0.5, 0.0])


def test_copy_threshold_and_interval_against_numpy() -> None:
    rng = np.random.default_rng(2)
    holdout, synthetic = rng.normal(size=60), rng.normal(0.5, 1.0, size=45)
    assert calibrated_threshold(holdout, 95) == np.percentile(holdout, 95)
    result = copy_rate(synthetic, holdout, percentile=90, num_bootstrap=200, confidence=0.9, seed=7)
    threshold = np.percentile(holdout, 90)
    assert result["threshold"] == threshold
    assert result["share"] == np.mean(synthetic > threshold) and result["count"] == np.sum(synthetic > threshold)
    # the same bootstrap written out in NumPy: each replicate resamples the hold-out set (re-calibrating the
    # threshold) and then the synthetic set
    draw = np.random.default_rng(7)
    values = []
    for _ in range(200):
        h, s = draw.integers(0, 60, 60), draw.integers(0, 45, 45)
        values.append(np.mean(synthetic[s] > np.percentile(holdout[h], 90)))
    assert result["share_ci"] == pytest.approx(list(np.percentile(values, [5, 95])))
    assert result["expected_share"] == pytest.approx(0.1)


def test_copy_rate_flags_only_an_excess_over_chance() -> None:
    rng = np.random.default_rng(3)
    holdout = rng.uniform(size=400)
    alike = copy_rate(rng.uniform(size=400), holdout, num_bootstrap=300)
    copies = copy_rate(np.r_[rng.uniform(size=300), np.full(100, 2.0)], holdout, num_bootstrap=300)
    assert not alike["flagged"] and alike["share_ci"][0] <= 0.05 <= alike["share_ci"][1]
    assert copies["flagged"] and copies["share_ci"][0] > 0.05
    with pytest.raises(ValueError, match="percentile"):
        calibrated_threshold(holdout, 100)


def test_distance_comparison_against_brute_force_and_scipy() -> None:
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(4)
    synthetic, holdout = np.round(rng.normal(0, 1, 30), 1), np.round(rng.normal(0.8, 1, 40), 1)  # ties on purpose
    result = compare_to_holdout(synthetic, holdout, alpha=0.05)
    pairs = synthetic[:, None] - holdout[None, :]
    assert result["closer_share"] == pytest.approx(np.mean(pairs < 0) + 0.5 * np.mean(pairs == 0))
    assert result["p_value"] == pytest.approx(mannwhitneyu(synthetic, holdout, alternative="less").pvalue)
    assert result["flagged"] and result["synthetic"]["median"] == np.median(synthetic)
    farther = compare_to_holdout(holdout, synthetic)
    assert not farther["flagged"] and farther["closer_share"] < 0.5


def test_roc_auc_and_tpr_at_low_fpr_against_sklearn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(5)
    for trial in range(5):
        members = np.round(rng.normal(0.6, 1, 150 + trial), 1)  # rounded: many ties
        others = np.round(rng.normal(0, 1, 400), 1)
        labels = np.r_[np.ones(members.size), np.zeros(others.size)]
        scores = np.r_[members, others]
        fpr, tpr = roc_curve(members, others)
        ref_fpr, ref_tpr, _ = metrics.roc_curve(labels, scores, drop_intermediate=False)
        assert np.allclose(fpr, ref_fpr) and np.allclose(tpr, ref_tpr)
        assert roc_auc(members, others) == pytest.approx(metrics.roc_auc_score(labels, scores))
        for target in (0.01, 0.05, 0.2):
            assert tpr_at_fpr(members, others, target) == pytest.approx(ref_tpr[ref_fpr <= target].max())


def test_loss_threshold_attack_calls_low_loss_images_members() -> None:
    rng = np.random.default_rng(6)
    members, others = rng.normal(0.5, 0.1, (80, 3)), rng.normal(1.0, 0.1, (90, 3))
    result = loss_threshold_attack(members, others, num_bootstrap=100)
    assert result["auc"] > 0.99 and result["tpr_at_fpr"] > 0.9 and result["flagged"]
    assert len(result["per_timestep"]) == 3 and result["auc_ci"][0] > 0.5
    same = loss_threshold_attack(rng.normal(1, 0.1, 200), rng.normal(1, 0.1, 200), num_bootstrap=200)
    assert not same["flagged"] and same["auc_ci"][0] < 0.5 < same["auc_ci"][1]
    with pytest.raises(ValueError, match="both"):
        roc_curve([], [1.0])
