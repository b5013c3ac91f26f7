"""Content-keyed feature cache and the seeded bootstrap intervals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from monai_synth.metrics.bootstrap import bootstrap_ci, fid_ci, mean_ci
from monai_synth.metrics.feature_cache import CACHE_ENV, FeatureCache, cached_features, content_key, default_cache_dir
from monai_synth.metrics.frechet import fid_from_features


def test_content_key_depends_on_pixels_order_and_weights() -> None:
    images = torch.randint(0, 256, (4, 1, 8, 8), dtype=torch.uint8)
    key, count = content_key(images, "a" * 64)
    assert count == 4
    assert content_key(images.float() / 127.5 - 1, "a" * 64)[0] == key  # same 8-bit content, float input
    assert content_key(list(images), "a" * 64)[0] == key
    changed = images.clone()
    changed[2, 0, 3, 3] ^= 1
    assert content_key(changed, "a" * 64)[0] != key
    assert content_key(images.flip(0), "a" * 64)[0] != key
    assert content_key(images, "b" * 64)[0] != key
    assert content_key(images.reshape(4, 1, 4, 16), "a" * 64)[0] != key  # same bytes, other shape


def test_cached_features_featurise_once(tmp_path: Path, stub_extractor) -> None:
    images = torch.rand(6, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    first = cached_features(lambda: iter(images), stub_extractor, tmp_path)
    assert stub_extractor.calls == 1 and len(list(tmp_path.glob("*.npy"))) == 1
    second = cached_features(images, stub_extractor, tmp_path)
    assert stub_extractor.calls == 1
    np.testing.assert_array_equal(first, second)
    cached_features(images[:5], stub_extractor, tmp_path)
    assert stub_extractor.calls == 2 and len(list(tmp_path.glob("*.npy"))) == 2
    assert not list(tmp_path.glob(".*.part"))  # atomic writes leave no temporaries


def test_cache_ignores_wrong_or_broken_entries(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    cache.save("k", np.ones((3, 4)))
    assert cache.load("k", 3).shape == (3, 4)
    assert cache.load("k", 2) is None
    cache.path("bad").write_bytes(b"not numpy")
    assert cache.load("bad") is None
    assert cache.load("absent") is None


def test_default_cache_dir_follows_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert default_cache_dir() == tmp_path / "inception_features"


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((300, 8)), rng.standard_normal((250, 8)) + 0.5
    lo, hi = fid_ci(x, y, num_resamples=30, seed=1)
    assert (lo, hi) == fid_ci(x, y, num_resamples=30, seed=1)
    assert lo < fid_from_features(x, y) < hi
    values = rng.random(500) < 0.3
    lo, hi = mean_ci(values, seed=2)
    assert lo < values.mean() < hi and hi - lo < 0.1
    assert bootstrap_ci(lambda r, f: float(r.size + f.size), 3, 4, 5) == (7.0, 7.0)
    with pytest.raises(ValueError, match="confidence"):
        mean_ci(values, confidence=1.5)
