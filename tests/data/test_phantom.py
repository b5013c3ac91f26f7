"""The embedded chest-radiograph phantom: determinism, masks, labels driven by the CTR, speed."""

from __future__ import annotations

import time

import numpy as np
import pytest

from monai_synth.data.ctr import ctr_from_masks
from monai_synth.data.phantom import CTR_RANGES, make_phantom, phantom_datalist


def test_contract_types_and_ranges() -> None:
    p = make_phantom(3, size=64, label=1)
    assert set(p) == {"image", "lung_mask", "heart_mask", "label", "ctr"}
    assert p["image"].shape == p["lung_mask"].shape == p["heart_mask"].shape == (1, 64, 64)
    assert p["image"].dtype == np.float32 and p["lung_mask"].dtype == np.uint8 and p["heart_mask"].dtype == np.uint8
    assert 0.0 <= p["image"].min() and p["image"].max() <= 1.0
    assert isinstance(p["label"], int) and isinstance(p["ctr"], float)


def test_deterministic_and_seed_dependent() -> None:
    a, b, c = make_phantom(7, 96), make_phantom(7, 96), make_phantom(8, 96)
    for key in ("image", "lung_mask", "heart_mask"):
        np.testing.assert_array_equal(a[key], b[key])
    assert (a["label"], a["ctr"]) == (b["label"], b["ctr"])
    assert not np.array_equal(a["image"], c["image"])


def test_same_anatomy_at_every_size() -> None:
    small, large = make_phantom(11, 64, label=0), make_phantom(11, 256, label=0)
    assert small["ctr"] == large["ctr"]
    fraction = [p["lung_mask"].mean() for p in (small, large)]
    assert fraction[0] == pytest.approx(fraction[1], abs=0.01)


@pytest.mark.parametrize("label", [0, 1])
def test_label_follows_true_ctr_with_margin(label: int) -> None:
    lo, hi = CTR_RANGES[label]
    for seed in range(20):
        p = make_phantom(seed, 32, label=label)
        assert p["label"] == label
        assert lo <= p["ctr"] <= hi
        assert (p["ctr"] > 0.5) == bool(label)
    assert CTR_RANGES[0][1] < 0.5 - 0.01 and CTR_RANGES[1][0] > 0.5 + 0.01


def test_masks_are_exact_and_match_true_ctr() -> None:
    """The masks are the anatomy: disjoint, heart between the lungs, CTR of the masks = true CTR."""
    for seed in range(6):
        p = make_phantom(seed, 256)
        lungs, heart = p["lung_mask"][0] > 0, p["heart_mask"][0] > 0
        assert not (lungs & heart).any()
        assert 0.15 < lungs.mean() < 0.5 and 0.02 < heart.mean() < 0.2
        cols = np.flatnonzero(lungs.any(0))
        heart_cols = np.flatnonzero(heart.any(0))
        assert cols[0] < heart_cols[0] and heart_cols[-1] < cols[-1]
        assert heart_cols.mean() > 128  # the heart sits towards the image right (patient's left, PA view)
        assert ctr_from_masks(p["lung_mask"], p["heart_mask"]) == pytest.approx(p["ctr"], abs=0.02)


def test_lungs_are_dark_heart_bright() -> None:
    p = make_phantom(5, 128)
    image, lungs, heart = p["image"][0], p["lung_mask"][0] > 0, p["heart_mask"][0] > 0
    assert image[heart].mean() > image[lungs].mean() + 0.25


def test_label_none_drawn_from_seed() -> None:
    labels = {make_phantom(s, 32)["label"] for s in range(12)}
    assert labels == {0, 1}
    drawn = make_phantom(5, 48)
    np.testing.assert_array_equal(drawn["image"], make_phantom(5, 48, label=drawn["label"])["image"])
    other = make_phantom(5, 48, label=1 - drawn["label"])
    assert (other["ctr"] > 0.5) != (drawn["ctr"] > 0.5)


def test_datalist_balanced_and_deterministic() -> None:
    a, b = phantom_datalist(10, 32, seed=1), phantom_datalist(10, 32, seed=1)
    assert [e["label"] for e in a] == [0, 1] * 5
    assert all(np.array_equal(x["image"], y["image"]) and x["ctr"] == y["ctr"] for x, y in zip(a, b))
    assert not np.array_equal(a[0]["image"], phantom_datalist(1, 32, seed=2)[0]["image"])
    assert phantom_datalist(0, 32, seed=1) == []


@pytest.mark.parametrize("kwargs", [{"size": 16}, {"size": 600}, {"label": 2}])
def test_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        make_phantom(0, **{"size": 64, **kwargs})


def test_fast_enough() -> None:
    """256 phantoms at 64 px take about 1 s on one core; allow headroom for a loaded machine."""
    start = time.perf_counter()
    phantom_datalist(128, 64, seed=0)
    assert time.perf_counter() - start < 5.0
