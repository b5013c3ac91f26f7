"""The experiment plan (settings, cells, subsets) and the conditional fidelity score."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_synth.metrics.utility.conditional import classifier_conditional_fidelity, conditional_fidelity
from monai_synth.metrics.utility.plan import (
    Setting,
    plan_cells,
    plan_settings,
    real_subset,
    synthetic_subset,
    synthetic_wanted,
)


def test_plan_holds_trtr_tstr_and_every_grid_point() -> None:
    settings = plan_settings(["vgg11", "monai_classifier"], [0.1, 0.5], [0.5, 2], tstr_multiple=1.0)
    keys = [s.key for s in settings]
    assert "vgg11/real1/synth0" in keys and "vgg11/real0/synth1" in keys  # TRTR and TSTR always there
    assert "monai_classifier/real0.1/synth0" in keys  # the k = 0 reference of every real share
    assert len(settings) == 2 * (3 * 3 + 1)
    assert {s.kind for s in settings} == {"trtr", "tstr", "real_only", "augmented"}
    cells = plan_cells(settings, [0, 1, 2])
    assert len(cells) == 3 * len(settings) and len({c.key for c in cells}) == len(cells)
    assert [c.seed for c in cells[: len(settings)]] == [0] * len(settings)  # one pass over the grid first
    assert plan_settings(["vgg11"], [1.0], [0.0], tstr_multiple=None)[-1].kind == "trtr"


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="trains on nothing"):
        Setting("vgg11", 0.0, 0.0)
    with pytest.raises(ValueError, match="real_fraction"):
        Setting("vgg11", 1.5, 0.0)
    with pytest.raises(ValueError, match="real_fractions"):
        plan_settings(["vgg11"], [0.0], [1.0])


def test_real_subset_is_stratified_seeded_and_complete_at_one() -> None:
    labels = np.array([0] * 100 + [1] * 20 + [2] * 3)
    sub = real_subset(labels, 0.1, seed=0)
    assert np.bincount(labels[sub]).tolist() == [10, 2, 1]  # at least one image per class
    assert np.array_equal(sub, real_subset(labels, 0.1, seed=0))
    assert not np.array_equal(sub, real_subset(labels, 0.1, seed=1))
    assert np.array_equal(real_subset(labels, 1.0, seed=5), np.arange(labels.size))


def test_synthetic_subsets_are_nested_in_the_count_and_report_shortfall() -> None:
    pool = np.array([0] * 50 + [1] * 10)
    small, _ = synthetic_subset(pool, np.array([5, 2]), seed=3)
    large, short = synthetic_subset(pool, np.array([20, 15]), seed=3)
    assert set(small) <= set(large)
    assert short.tolist() == [0, 5] and np.bincount(pool[large]).tolist() == [20, 10]
    assert synthetic_wanted(np.array([10, 3]), 0.25).tolist() == [3, 1]  # rounded up


def test_conditional_fidelity_perfect_wrong_and_per_class() -> None:
    conditioned = np.array([0] * 30 + [1] * 30 + [2] * 40)
    names = ["a", "b", "c"]
    perfect = conditional_fidelity(conditioned, [conditioned], names, num_resamples=100)
    assert perfect["score"]["mean"] == 1.0 and perfect["score"]["ci"] == [1.0, 1.0]
    wrong = conditional_fidelity(conditioned, [(conditioned + 1) % 3], names, num_resamples=100)
    assert wrong["score"]["mean"] == 0.0 and wrong["confusion"][0][1] == 30
    half = conditioned.copy()
    half[:15] = 1  # half of class a drawn as b
    mixed = conditional_fidelity(conditioned, [half, conditioned], names, real_labels=np.array([0, 1, 2]),
                                 real_predicted=[np.array([0, 1, 1])], num_resamples=200)  # fmt: skip
    a = mixed["per_class"]["a"]
    assert a["n"] == 30 and a["share"]["per_seed"] == [0.5, 1.0] and a["share"]["mean"] == 0.75
    assert mixed["per_class"]["b"]["share"]["mean"] == 1.0 and mixed["per_class"]["c"]["real_recall"] == 0.0
    assert mixed["balanced_score"]["mean"] == pytest.approx((0.75 + 1 + 1) / 3)
    assert a["share"]["ci"][0] < 0.75 < a["share"]["ci"][1]


def test_classifier_conditional_fidelity_tells_real_like_from_mislabelled() -> None:
    from utility_data import pattern

    rng = np.random.default_rng(0)

    def images(labels: list[int]) -> torch.Tensor:
        return torch.from_numpy(np.stack([pattern(c, rng) for c in labels])[:, None] / 127.5 - 1.0).float()

    real_labels = [c for c in range(3) for _ in range(20)]
    synth_labels = torch.tensor([c for c in range(3) for _ in range(10)])
    real_like = images(synth_labels.tolist())
    kw = {"steps": 40, "batch_size": 16, "num_resamples": 50, "holdout_images": images(real_labels),
          "holdout_labels": torch.tensor(real_labels)}  # fmt: skip
    good = classifier_conditional_fidelity(images(real_labels), torch.tensor(real_labels), real_like, synth_labels,
                                           ["a", "b", "c"], **kw)  # fmt: skip
    bad = classifier_conditional_fidelity(images(real_labels), torch.tensor(real_labels), real_like,
                                          (synth_labels + 1) % 3, ["a", "b", "c"], **kw)  # fmt: skip
    assert good["score"]["mean"] > 0.9 and bad["score"]["mean"] < 0.1
    assert good["per_class"]["a"]["real_recall"] > 0.9 and good["classifier"]["network"] == "monai_classifier"
