"""The reader-study statistics against hand-computed and textbook values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import beta

from monai_synth.turing import stats

# Wikipedia, "Fleiss' kappa", worked example: 10 items, 14 raters, 5 categories.
# P_bar = 0.378, P_e = 0.213, kappa = 0.210 (the article's rounded figures).
WIKIPEDIA_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def test_fleiss_kappa_wikipedia_example():
    # By hand: column sums (20, 28, 39, 21, 32) of 140 ratings -> P_e = 4170 / 19600 = 0.21276;
    # P_i = (sum_j n_ij^2 - 14) / (14 * 13): row 1 gives 1.000, row 2 0.253, ...; their mean P_bar = 0.37802.
    p_e = (20**2 + 28**2 + 39**2 + 21**2 + 32**2) / 140**2
    assert p_e == pytest.approx(0.213, abs=5e-4)
    row_sums = [sum(v * v for v in row) for row in WIKIPEDIA_TABLE]
    p_bar = sum((s - 14) / (14 * 13) for s in row_sums) / 10
    assert p_bar == pytest.approx(0.378, abs=5e-4)
    expected = (p_bar - p_e) / (1 - p_e)
    assert stats.fleiss_kappa(WIKIPEDIA_TABLE) == pytest.approx(expected, abs=1e-12)
    assert stats.fleiss_kappa(WIKIPEDIA_TABLE) == pytest.approx(0.210, abs=5e-4)


def test_fleiss_kappa_perfect_chance_and_undefined():
    assert stats.fleiss_kappa([[3, 0], [0, 3], [3, 0]]) == pytest.approx(1.0)
    # two raters always disagreeing on balanced items: P_bar = 0, P_e = 0.5 -> kappa = -1
    assert stats.fleiss_kappa([[1, 1], [1, 1]]) == pytest.approx(-1.0)
    assert stats.fleiss_kappa([[2, 0], [2, 0]]) is None  # one category only
    assert stats.fleiss_kappa(np.zeros((0, 2))) is None
    with pytest.raises(ValueError, match="same number"):
        stats.fleiss_kappa([[2, 0], [1, 0]])


def test_rating_table():
    table = stats.rating_table({"a": [True, True, False], "b": [False, False, False]}, [True, False])
    assert table.tolist() == [[2, 1], [0, 3]]


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (17, 40)])
def test_exact_interval_is_clopper_pearson(k, n):
    got = stats.exact_interval(k, n, 0.95)
    low = 0.0 if k == 0 else beta.ppf(0.025, k, n - k + 1)
    high = 1.0 if k == n else beta.ppf(0.975, k + 1, n - k)
    assert got["value"] == k / n
    assert got["low"] == pytest.approx(low, abs=1e-7) and got["high"] == pytest.approx(high, abs=1e-7)


def test_exact_interval_textbook_value_and_empty():
    got = stats.exact_interval(5, 10)
    assert (round(got["low"], 4), round(got["high"], 4)) == (0.1871, 0.8129)
    assert stats.exact_interval(0, 0)["value"] is None


def test_confusion_and_rates_by_hand():
    truth = [True, True, True, False, False, False, False]
    said = [True, False, True, True, False, False, True]
    counts = stats.confusion_counts(truth, said)
    assert counts == {"tp": 2, "fp": 2, "fn": 1, "tn": 2}
    rates = stats.classification_rates(counts)
    assert rates["precision"]["value"] == 2 / 4 and rates["recall"]["value"] == 2 / 3
    assert rates["accuracy"]["value"] == 4 / 7 and rates["fpr"]["value"] == 2 / 4 and rates["fnr"]["value"] == 1 / 3


def test_binomial_test_matches_hand_computation():
    # two-sided, p = 0.5, 9 of 10: P(X >= 9) * 2 = 2 * 11 / 1024
    assert stats.binomial_test(9, 10) == pytest.approx(22 / 1024)
    assert stats.binomial_test(0, 0) is None


def test_mean_difference_permutation_is_seeded_and_sensible():
    a, b = [5, 5, 4, 5, 4, 5, 5, 4], [1, 2, 1, 2, 1, 1, 2, 2]
    first = stats.permutation_test_mean_difference(a, b, 2000, seed=3)
    assert first == stats.permutation_test_mean_difference(a, b, 2000, seed=3)
    assert first["difference"] == pytest.approx(np.mean(a) - np.mean(b))
    assert first["p"] < 0.01  # 1 / C(16, 8) = 7.8e-5 is the exact p; the estimate is (1 + 0) / 2001
    same = stats.permutation_test_mean_difference([3, 4, 3, 4], [4, 3, 4, 3], 2000, seed=0)
    assert same["difference"] == 0 and same["p"] == 1.0
    assert stats.permutation_test_mean_difference([], [1], 10)["p"] is None


def test_accuracy_permutation():
    truth = [True] * 10 + [False] * 10
    assert stats.permutation_test_accuracy(truth, truth, 2000, seed=0)["p"] < 0.01
    coin = stats.permutation_test_accuracy(truth, [True, False] * 10, 2000, seed=0)
    assert coin["accuracy"] == 0.5 and coin["p"] > 0.5


def test_pearson_permutation_exact_enumeration():
    fid = [10.0, 20.0, 30.0, 40.0]
    fpr = [0.5, 0.4, 0.25, 0.1]
    result = stats.pearson_permutation(fid, fpr)
    assert result["r"] == pytest.approx(np.corrcoef(fid, fpr)[0, 1])
    assert result["exact"] and result["n"] == 4
    # only the observed ordering and its reverse reach |r| this high among the 24 orderings
    assert result["p"] == pytest.approx(2 / 24)
    assert stats.pearson_permutation([1, 2], [2, 1])["r"] is None


def test_pearson_permutation_random_branch_is_seeded():
    rng = np.random.default_rng(0)
    x = rng.normal(size=12)
    y = x + rng.normal(scale=0.1, size=12)
    one, two = stats.pearson_permutation(x, y, 500, seed=1), stats.pearson_permutation(x, y, 500, seed=1)
    assert one == two and not one["exact"] and one["p"] == pytest.approx(1 / 501)
    assert math.isclose(one["r"], float(np.corrcoef(x, y)[0, 1]))
