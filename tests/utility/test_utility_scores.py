"""Accuracy, balanced accuracy and macro AUROC against scikit-learn; bootstrap intervals and seed spread."""

from __future__ import annotations

import numpy as np
import pytest

sklearn_metrics = pytest.importorskip("sklearn.metrics")

from monai_synth.metrics.utility.scores import (  # noqa: E402
    classification_scores,
    paired_difference,
    score_rows,
    stratified_resamples,
)


def _case(n: int, classes: int, seed: int, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    logits = rng.normal(size=(n, classes)) + 1.5 * np.eye(classes)[labels]
    if ties:
        logits = np.round(logits)  # many equal scores: AUROC's mid-ranks matter
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return labels, probs


@pytest.mark.parametrize("classes,ties", [(2, False), (3, False), (6, False), (4, True), (2, True)])
def test_point_values_match_sklearn(classes: int, ties: bool) -> None:
    labels, probs = _case(300, classes, seed=classes, ties=ties)
    got = {m: float(v[0]) for m, v in score_rows(labels, probs, np.arange(labels.size)[None]).items()}
    pred = probs.argmax(1)
    assert got["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(labels, pred), abs=1e-12)
    assert got["balanced_accuracy"] == pytest.approx(sklearn_metrics.balanced_accuracy_score(labels, pred), abs=1e-12)
    if classes == 2:
        expected = sklearn_metrics.roc_auc_score(labels, probs[:, 1])
    else:
        expected = sklearn_metrics.roc_auc_score(labels, probs, multi_class="ovr", average="macro")
    assert got["auroc"] == pytest.approx(expected, abs=1e-12)


def test_resampled_rows_match_sklearn_on_each_resample() -> None:
    labels, probs = _case(120, 3, seed=7)
    rows = stratified_resamples(labels, 5, seed=0)
    values = score_rows(labels, probs, rows)
    for b, row in enumerate(rows):
        y, p = labels[row], probs[row]
        assert values["balanced_accuracy"][b] == pytest.approx(
            sklearn_metrics.balanced_accuracy_score(y, p.argmax(1)), abs=1e-12)
        assert values["auroc"][b] == pytest.approx(
            sklearn_metrics.roc_auc_score(y, p, multi_class="ovr", average="macro"), abs=1e-12)


def test_stratified_resamples_keep_class_counts() -> None:
    labels = np.array([0] * 5 + [1] * 30 + [2] * 2)
    rows = stratified_resamples(labels, 200, seed=3)
    assert rows.shape == (200, labels.size)
    for row in rows:
        assert np.bincount(labels[row], minlength=3).tolist() == [5, 30, 2]


def test_seed_mean_spread_and_interval() -> None:
    labels, probs_a = _case(400, 3, seed=1)
    noisy = probs_a + np.random.default_rng(9).uniform(0, 0.6, probs_a.shape)  # another "seed": other mistakes
    out = classification_scores(labels, [probs_a, probs_a], num_resamples=300, confidence=0.95, seed=0)
    acc = out["accuracy"]
    assert acc["std"] == 0.0 and acc["per_seed"][0] == acc["per_seed"][1] == acc["mean"]
    assert acc["ci"][0] < acc["mean"] < acc["ci"][1]
    # a 95% interval of an accuracy near 0.7 on 400 images is about +-0.045 wide
    assert 0.05 < acc["ci"][1] - acc["ci"][0] < 0.14
    two = classification_scores(labels, [probs_a, noisy], num_resamples=0)["accuracy"]
    assert two["std"] == pytest.approx(np.std(two["per_seed"], ddof=1)) and two["std"] > 0
    assert two["mean"] == pytest.approx(np.mean(two["per_seed"]))
    single = classification_scores(labels, [probs_a], num_resamples=0)
    assert single["auroc"]["ci"] is None and single["auroc"]["mean"] == pytest.approx(out["auroc"]["mean"])


def test_paired_difference_of_a_setting_with_itself_is_zero_and_signs_are_right() -> None:
    labels, probs = _case(200, 3, seed=5)
    same = paired_difference(labels, [probs], [probs], num_resamples=100)
    assert all(v["value"] == 0.0 and v["ci"] == [0.0, 0.0] for v in same.values())
    perfect = np.eye(3)[labels] * 0.9 + 0.05
    better = paired_difference(labels, [perfect], [probs], num_resamples=200)
    assert better["accuracy"]["value"] > 0 and better["accuracy"]["ci"][0] > 0
