"""On real PneumoniaMNIST images: two real samples score close, noise and phantoms far (slow: real Inception)."""

from __future__ import annotations

import pytest

from monai_synth.metrics.fidelity import fidelity_metrics
from monai_synth.metrics.sanity_check import candidate_sets


@pytest.mark.slow
def test_fid_orders_real_noise_and_phantoms(pneumonia_npz, reference_inception) -> None:
    from monai_synth.metrics.features import InceptionFeatureExtractor

    sets = candidate_sets(pneumonia_npz, count=64, seed=0)
    extractor = InceptionFeatureExtractor(device="cpu", progress=False)
    real = extractor(sets.pop("test"))
    scores = {name: fidelity_metrics(real, extractor(images), kid_subsets=10) for name, images in sets.items()}
    close = scores.pop("train sample")
    for far in scores.values():
        assert far["fid"] > 3 * close["fid"] and far["kid_mean"] > 20 * abs(close["kid_mean"])
        assert far["precision"] < 0.1 < close["precision"]
